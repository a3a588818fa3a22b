/**
 * The drift check's ECR backend: what one repository actually holds (image count, newest push, where
 * the requested tags point) and which repositories exist under a prefix.
 *
 * It exists because the platform-agent repository sat empty for weeks and the base image was a month
 * stale without anyone noticing. So every "could not check" path throws CheckError: a backend that
 * swallowed an auth or network error and returned empty facts would turn an outage into "empty" at best,
 * and a partial listing into a wrong count or a missing tag at worst.
 */
import {
  DescribeImagesCommand,
  type DescribeImagesCommandOutput,
  DescribeRepositoriesCommand,
  type DescribeRepositoriesCommandOutput,
  ECRClient,
  type ImageDetail,
} from "@aws-sdk/client-ecr";
import pLimit from "p-limit";
import { CACHE_TAG, CheckError, type RegistryBackend, type RepositoryFacts } from "./types";

export { parseEcrHost } from "./ecr-host";

/** Largest page both DescribeImages and DescribeRepositories accept: fewer round trips on big repositories. */
const PAGE_SIZE = 1000;
/** Per-attempt HTTP timeouts (ms). A hung connection must end as an error, not hang the check forever. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Repositories described at once, however many the check runs: each is a DescribeRepositories and a
 * DescribeImages per page, control-plane calls with a throttling quota AWS does not publish, and a
 * throttled call that outlives its retries reads as "could not check".
 */
export const ECR_DESCRIBES_AT_ONCE = 16;

export interface EcrBackendOptions {
  registryId: string;
  region: string;
  /** Injected in tests; by default a client with the SDK's default credential chain. */
  client?: ECRClient;
}

export class EcrBackend implements RegistryBackend {
  private readonly registryId: string;
  private readonly region: string;
  private readonly client: ECRClient;
  private readonly describing = pLimit(ECR_DESCRIBES_AT_ONCE);

  constructor(opts: EcrBackendOptions) {
    this.registryId = opts.registryId;
    this.region = opts.region;
    this.client =
      opts.client ??
      new ECRClient({
        region: opts.region,
        // Credentials come from the SDK v3 default chain (env, SSO/profile, web identity, ECS/IMDS).
        // The default "standard" retry mode already retries throttling, 5xx and transient errors
        // (including the TimeoutError below) with exponential backoff and jitter; 5 attempts instead
        // of 3 rides out a throttled account without hiding a real outage for long.
        maxAttempts: 5,
        // Options for the default NodeHttpHandler (@smithy/node-http-handler 4.x). In this version
        // requestTimeout on its own only logs a warning when exceeded; throwOnRequestTimeout makes it
        // a TimeoutError, which the retry strategy classifies as transient and retries.
        requestHandler: {
          connectionTimeout: CONNECTION_TIMEOUT_MS,
          requestTimeout: REQUEST_TIMEOUT_MS,
          throwOnRequestTimeout: true,
        },
      });
  }

  describe(repository: string, tags: string[], signal?: AbortSignal): Promise<RepositoryFacts> {
    return this.describing(() => this.describeNow(repository, tags, signal));
  }

  private async describeNow(
    repository: string,
    tags: string[],
    signal?: AbortSignal,
  ): Promise<RepositoryFacts> {
    // The SDK's own bounds (5 attempts of up to 5 s connect + 30 s request, with backoff, per call, and a
    // call per page) are not a bound on a check: the caller's signal is, and it aborts the call in flight.
    const options = { abortSignal: signal };
    const missing: RepositoryFacts = { exists: false, imageCount: 0, newestPush: null, tags: {} };

    let repos: DescribeRepositoriesCommandOutput;
    try {
      repos = await this.client.send(
        new DescribeRepositoriesCommand({ registryId: this.registryId, repositoryNames: [repository] }),
        options,
      );
    } catch (err) {
      if (isRepositoryNotFound(err)) return missing;
      throw this.checkError(`DescribeRepositories for repository "${repository}"`, err);
    }
    // Asking for one name either returns it or throws RepositoryNotFoundException; anything else is a
    // response we do not understand, and guessing "exists" or "missing" from it would be a made-up fact.
    if (!repos.repositories?.some((r) => r.repositoryName === repository)) {
      throw new CheckError(
        `ECR DescribeRepositories for repository "${repository}" in ${this.where()} did not return it`,
      );
    }

    let images: ImageDetail[];
    try {
      images = await this.allImages(repository, options);
    } catch (err) {
      // Deleted between the two calls: it is missing now, which is what the check should report.
      if (isRepositoryNotFound(err)) return missing;
      if (err instanceof CheckError) throw err;
      throw this.checkError(`DescribeImages for repository "${repository}"`, err);
    }

    return {
      exists: true,
      imageCount: images.length,
      newestPush: newestPush(images),
      tags: tagDigests(images, tags),
    };
  }

  async list(prefix: string, signal?: AbortSignal): Promise<string[]> {
    const names: string[] = [];
    try {
      await this.walk(
        (nextToken) =>
          this.client.send(
            new DescribeRepositoriesCommand({
              registryId: this.registryId,
              maxResults: PAGE_SIZE,
              nextToken,
            }),
            { abortSignal: signal },
          ),
        (page) => {
          for (const r of page.repositories ?? []) {
            if (r.repositoryName?.startsWith(prefix)) names.push(r.repositoryName);
          }
        },
        `DescribeRepositories (prefix "${prefix}")`,
      );
    } catch (err) {
      if (err instanceof CheckError) throw err;
      throw this.checkError(`DescribeRepositories for repositories starting with "${prefix}"`, err);
    }
    // Sorted so reports and tests do not depend on the order ECR happens to page in.
    return names.sort();
  }

  /** Every image in the repository, ACTIVE and ARCHIVED, across every page. */
  private async allImages(
    repository: string,
    options: { abortSignal: AbortSignal | undefined },
  ): Promise<ImageDetail[]> {
    const images: ImageDetail[] = [];
    await this.walk(
      (nextToken) =>
        this.client.send(
          new DescribeImagesCommand({
            registryId: this.registryId,
            repositoryName: repository,
            // Without imageStatus ECR returns ACTIVE images only, so a repository whose images were all
            // moved to archive would look empty. ANY also includes ACTIVATING (being restored) images.
            // tagStatus ANY (the documented default) is explicit: untagged images are images too.
            filter: { tagStatus: "ANY", imageStatus: "ANY" },
            maxResults: PAGE_SIZE,
            nextToken,
          }),
          options,
        ),
      (page: DescribeImagesCommandOutput) => {
        images.push(...(page.imageDetails ?? []));
      },
      `DescribeImages for repository "${repository}"`,
    );
    return images;
  }

  /**
   * A nextToken loop rather than the SDK's paginateX helpers: those reuse and mutate one input object
   * (so recorded requests all show the last token) and by default loop forever on a repeated token.
   * Each request here gets its own input, and a repeated token is an error, not an endless walk.
   */
  private async walk<P extends { nextToken?: string | undefined }>(
    fetch: (nextToken: string | undefined) => Promise<P>,
    onPage: (page: P) => void,
    what: string,
  ): Promise<void> {
    const seen = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await fetch(nextToken);
      onPage(page);
      nextToken = page.nextToken || undefined;
      if (nextToken !== undefined) {
        if (seen.has(nextToken)) {
          throw new CheckError(`ECR ${what} in ${this.where()} returned a nextToken it already returned`);
        }
        seen.add(nextToken);
      }
    } while (nextToken !== undefined);
  }

  private where(): string {
    return `registry ${this.registryId} (${this.region})`;
  }

  private checkError(what: string, err: unknown): CheckError {
    return new CheckError(`ECR ${what} in ${this.where()} failed: ${describeError(err)}`, { cause: err });
  }
}

/**
 * Newest push over the images that are not the build cache. The cache manifest is rewritten on every
 * build, so counting it would make a repository whose real images are a month old look fresh.
 *
 * An image that carries the cache tag *and* other tags is excluded too. buildx's registry cache writes a
 * separate manifest that only ever carries `buildcache`, so this should not happen; if it does, excluding
 * it can at worst report a repository as stale that is not (loud, and checked by a human), while
 * including it could hide exactly the staleness this check exists to surface.
 *
 * ECR records imagePushedAt for every image; an image without one cannot move the maximum, so it is
 * skipped rather than turning the whole answer into "unknown".
 */
function newestPush(images: ImageDetail[]): Date | null {
  let newest: Date | null = null;
  for (const image of images) {
    if (image.imageTags?.includes(CACHE_TAG)) continue;
    const pushed = image.imagePushedAt;
    if (pushed && !Number.isNaN(pushed.getTime()) && (newest === null || pushed > newest)) newest = pushed;
  }
  return newest;
}

/** Where each requested tag points, from the images already listed (a tag names one image per repository). */
function tagDigests(images: ImageDetail[], wanted: string[]): Record<string, string> {
  const want = new Set(wanted);
  const out: Record<string, string> = {};
  for (const image of images) {
    if (!image.imageDigest) continue;
    for (const tag of image.imageTags ?? []) {
      if (want.has(tag)) out[tag] = image.imageDigest;
    }
  }
  return out;
}

function isRepositoryNotFound(err: unknown): boolean {
  // By name, not instanceof: a second copy of the SDK (or a mock) throws a different class object.
  return err instanceof Error && err.name === "RepositoryNotFoundException";
}

/** "Name: message (HTTP 403, request id ...)" for SDK service errors, credential and network errors alike. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const meta = (err as { $metadata?: { httpStatusCode?: number; requestId?: string } }).$metadata;
  const extra = [
    meta?.httpStatusCode !== undefined ? `HTTP ${meta.httpStatusCode}` : undefined,
    meta?.requestId ? `request id ${meta.requestId}` : undefined,
  ].filter((s) => s !== undefined);
  return `${err.name}: ${err.message || "(no message)"}${extra.length ? ` (${extra.join(", ")})` : ""}`;
}
