/**
 * Checks every image the stack declares (and, with a scan prefix, every repository it does not) against
 * its registry, with bounded concurrency so 50 repositories take about as long as the slowest few.
 */
import { setMaxListeners } from "node:events";
import pLimit from "p-limit";
import { z } from "zod";
import { UserError } from "../cli/user-error";
import { stripBom } from "../text/bom";
import { classify, failed, splitRepository, tagOf, unmanaged } from "./classify";
import { CheckError, type DriftResult, type ExpectedImage, type RegistryBackend } from "./types";

const outputsSchema = z.object({
  images: z.record(
    z.string(),
    z.object({
      repository: z.string().regex(/^[^/\s]+\/\S+$/, "expected <registry host>/<repository>"),
      ref: z.string().optional(),
      digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, "expected a sha256 digest"),
      tags: z.array(z.string()).min(1, "expected at least one tag"),
    }),
    { error: "expected images: { [name]: { repository, ref, digest, tags } }" },
  ),
});

/** The stack outputs (as `pulumi stack output --json` prints them) -> the images to check. */
export function parseOutputs(text: string, source: string): ExpectedImage[] {
  let data: unknown;
  try {
    data = JSON.parse(stripBom(text));
  } catch (err) {
    throw new UserError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const result = outputsSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`);
    throw new UserError(`${source}: not the stack's outputs:\n  ${problems.join("\n  ")}`);
  }
  return Object.entries(result.data.images).map(([name, image]) => ({ name, ...image }));
}

/**
 * Repositories checked at once. What a registry sees is bounded by its backend, not by this (OCI:
 * OCI_DEFAULTS.maxInFlight requests; ECR: ECR_DESCRIBES_AT_ONCE describes), so this only bounds the
 * check's own work in progress: 50 repositories start together, and none waits a turn behind another
 * repository's round trips (bench:drift: 443 ms at 16, 209 ms at 64).
 */
export const DEFAULT_DRIFT_CONCURRENCY = 64;

/**
 * The whole check's deadline. Per-request bounds (OCI_DEFAULTS: 150 s at worst for one request) multiply
 * across pages, the steps of a describe and repositories waiting for a slot; this cuts all of them. What
 * is unfinished when it passes is an `error` ("timed out"), so the check still exits 2, never 0.
 */
export const DEFAULT_DRIFT_DEADLINE_MS = 150_000;

export interface CheckOptions {
  maxAgeDays: number;
  scanPrefix?: string;
  now?: Date;
  concurrency?: number;
  /** Default DEFAULT_DRIFT_DEADLINE_MS. */
  deadlineMs?: number;
  backendFor: (host: string) => RegistryBackend;
}

const reason = (err: unknown) =>
  err instanceof CheckError
    ? err.message
    : `unexpected failure: ${err instanceof Error ? err.message : String(err)}`;

/**
 * The check's deadline: a timer that aborts a controller (the event loop holds a pending timer, so it
 * cannot be garbage-collected), and `within`, which settles a backend call by the deadline at the latest,
 * whether or not the backend obeys the signal.
 */
function deadline(ms: number) {
  const controller = new AbortController();
  // Every repository in flight follows it: more than the 10 listeners Node warns about is expected.
  setMaxListeners(0, controller.signal);
  const seconds = `${Number((ms / 1000).toFixed(3))} s`;
  const reason = new CheckError(
    `timed out: the drift check's deadline of ${seconds} passed first (a registry too slow or not answering)`,
  );
  const timer = setTimeout(() => controller.abort(reason), ms);
  const passed = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(reason), { once: true });
  });
  passed.catch(() => {}); // only ever observed through within()
  return {
    signal: controller.signal,
    within<T>(work: () => Promise<T>): Promise<T> {
      if (controller.signal.aborted) return Promise.reject(reason);
      return Promise.race([work(), passed]);
    },
    clear: () => clearTimeout(timer),
  };
}

/**
 * Checking nothing is not a clean bill of health: an empty `images` output (a stack that lost its images,
 * outputs read from the wrong stack) would otherwise exit 0. A scan prefix scans the registries of the
 * declared images, so without images it has no host to scan either.
 */
function nothingToCheck(images: ExpectedImage[], scanPrefix: string | undefined): UserError | undefined {
  if (images.length > 0) return undefined;
  const none = "nothing to check: the stack output declares no images";
  if (scanPrefix === undefined) return new UserError(`${none} (\`images\` is empty)`);
  return new UserError(
    `${none}, and the scan prefix ${JSON.stringify(scanPrefix)} has no registry host to scan (a scan covers the registries of the declared images)`,
  );
}

/** Throws UserError when there is nothing to check (see nothingToCheck). */
export async function checkDrift(images: ExpectedImage[], opts: CheckOptions): Promise<DriftResult[]> {
  const nothing = nothingToCheck(images, opts.scanPrefix);
  if (nothing) throw nothing;
  const clock = deadline(opts.deadlineMs ?? DEFAULT_DRIFT_DEADLINE_MS);
  try {
    return await check(images, opts, clock);
  } finally {
    clock.clear();
  }
}

async function check(
  images: ExpectedImage[],
  opts: CheckOptions,
  clock: ReturnType<typeof deadline>,
): Promise<DriftResult[]> {
  const now = opts.now ?? new Date();
  const { signal, within } = clock;
  const limit = pLimit(opts.concurrency ?? DEFAULT_DRIFT_CONCURRENCY);
  const backends = new Map<string, RegistryBackend>();
  const backend = (host: string) => {
    let found = backends.get(host);
    if (!found) {
      found = opts.backendFor(host);
      backends.set(host, found);
    }
    return found;
  };

  const declared = images.map((image) =>
    limit(async (): Promise<DriftResult> => {
      try {
        const { host, path } = splitRepository(image.repository);
        const tags = image.tags.map((ref) => tagOf(ref) ?? ref);
        return classify(image, await within(() => backend(host).describe(path, tags, signal)), {
          now,
          maxAgeDays: opts.maxAgeDays,
        });
      } catch (err) {
        return failed(image, reason(err));
      }
    }),
  );

  const scanned: Array<Promise<DriftResult[]>> = [];
  if (opts.scanPrefix !== undefined) {
    const prefix = opts.scanPrefix;
    const hosts = [...new Set(images.map((i) => splitRepository(i.repository).host))];
    const known = new Set(images.map((i) => i.repository));
    for (const host of hosts) {
      scanned.push(
        limit(() => within(() => backend(host).list(prefix, signal)))
          .then((paths) =>
            Promise.all(
              paths
                .filter((path) => !known.has(`${host}/${path}`))
                .map((path) =>
                  limit(async () => {
                    try {
                      const facts = await within(() => backend(host).describe(path, [], signal));
                      return unmanaged(`${host}/${path}`, facts, now);
                    } catch (err) {
                      return failed({ name: null, repository: `${host}/${path}` }, reason(err));
                    }
                  }),
                ),
            ),
          )
          .catch((err) => [
            failed({ name: null, repository: `${host}/${prefix}*` }, `scan failed: ${reason(err)}`),
          ]),
      );
    }
  }
  return [...(await Promise.all(declared)), ...(await Promise.all(scanned)).flat()];
}
