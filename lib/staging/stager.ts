/**
 * Stages every manifest entry at its pinned commit into `<dest>/<list dir>/<name>`.
 *
 * What the old clone script got wrong, and what this does instead:
 * - full serial clones (OOM-killed mid-run) -> one commit at depth 1, bounded parallelism, retries;
 * - "skip if the directory is non-empty" (stale content after a ref bump) -> a recorded ref and digest
 *   per entry, verified against the tree on disk every run;
 * - token in the clone URL -> an HTTP header passed through git's environment config;
 * - partial trees after a kill -> build beside the target, then swap it in with renames.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import pLimit from "p-limit";
import { entriesOf, LIST_DIRS, LISTS, type ListName, type Manifest, type PlannedEntry } from "../manifest";
import { fetchCommit, GitError, type GitRun, gitEnv, initBare, readCommit, redactUrl } from "./git";
import { acquireLock } from "./lock";
import type { Progress } from "./progress";
import { checkTree, DIR_MODE, hashTree, requiredFileProblems, TreeError, writeTree } from "./tree";

/** Files each template must have at its pinned commit (the pinning contract's third rule). */
export const REQUIRED_FILES: Record<ListName, readonly string[]> = {
  workspace_templates: ["config.yaml"],
  org_templates: [],
  plugins: [],
};

export const DEFAULT_GIT_BASE_URL = "https://git.moleculesai.app";
export const DEFAULT_GITHUB_BASE_URL = "https://github.com";
/**
 * Fetches are latency-bound (two round trips each), so more run than there are cores; each costs ~20 MiB
 * of git processes at depth 1 (bench: 160 MiB at 8), far from what OOM-killed the old full clones.
 */
export const DEFAULT_CONCURRENCY = 8;
const STATE_DIR = ".molecule-stage";

export type Action = "fetched" | "unchanged" | "removed";

export interface EntryResult {
  list: ListName;
  name: string;
  ref: string | null;
  digest: string | null;
  action: Action;
}

export interface SkippedEntry {
  list: ListName;
  name: string;
  ref: string;
  reason: string;
}

export interface StageResult {
  digest: string;
  entries: EntryResult[];
  skipped: SkippedEntry[];
}

export interface StageFailure {
  list: ListName;
  name: string;
  repo: string;
  ref: string;
  message: string;
}

export class StageError extends Error {
  constructor(readonly failures: StageFailure[]) {
    super(
      `staging failed for ${failures.length} entr${failures.length === 1 ? "y" : "ies"}:\n${failures
        .map((f) => `  ${f.list}/${f.name} (${f.repo} @ ${f.ref}): ${f.message}`)
        .join("\n")}`,
    );
    this.name = "StageError";
  }
}

export interface StageOptions {
  manifest: Manifest;
  dest: string;
  gitBaseUrl?: string;
  githubBaseUrl?: string;
  concurrency?: number;
  allowMissingPrivate?: boolean;
  /** Read-only token for the platform's git host; sent only to `gitBaseUrl`. */
  token?: string;
  /** Attempts per entry for transient failures. */
  attempts?: number;
  retryDelayMs?: number;
  /** Hard cap on one git process (a backstop); default 10 minutes. */
  gitTimeoutMs?: number;
  /** A git transfer that moves less than a byte a second for this long fails (default 30 s). */
  gitInactivityS?: number;
  progress: Progress;
  /** Base environment for git children. */
  env?: NodeJS.ProcessEnv;
}

interface Marker {
  repo: string;
  ref: string;
  digest: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tag = () => randomBytes(4).toString("hex");
const labelOf = (e: { list: ListName; name: string }) => `${e.list}/${e.name}`;

function sourceUrl(entry: PlannedEntry, opts: StageOptions): string {
  const base =
    entry.provider === "github"
      ? (opts.githubBaseUrl ?? DEFAULT_GITHUB_BASE_URL)
      : (opts.gitBaseUrl ?? DEFAULT_GIT_BASE_URL);
  return `${base.replace(/\/+$/, "")}/${entry.repo}.git`;
}

/** Overall digest: the entries' digests under their staged paths, order-independent. */
export function combinedDigest(entries: Array<{ list: ListName; name: string; digest: string }>): string {
  const lines = entries.map((e) => `${LIST_DIRS[e.list]}/${e.name}\0${e.digest}\n`).sort();
  return `sha256:${createHash("sha256").update(lines.join("")).digest("hex")}`;
}

class Layout {
  constructor(readonly dest: string) {}
  listDir(list: ListName) {
    return join(this.dest, LIST_DIRS[list]);
  }
  target(e: { list: ListName; name: string }) {
    return join(this.listDir(e.list), e.name);
  }
  marker(e: { list: ListName; name: string }) {
    return join(this.dest, STATE_DIR, e.list, `${e.name}.json`);
  }
  lock() {
    return join(this.dest, STATE_DIR, "lock");
  }
}

async function readMarker(path: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Marker;
  } catch {
    return undefined;
  }
}

/**
 * The temporary name is short (`.tmp-<tag>` beside the file, removed by the next run's bookkeeping sweep
 * if a kill leaves it): a name derived from the file's own would fail for names that fit on their own.
 */
async function writeAtomically(path: string, content: string): Promise<void> {
  const tmp = join(dirname(path), `.tmp-${tag()}`);
  await writeFile(tmp, content);
  await rename(tmp, path);
}

/**
 * Renames an entry to `.old-<tag>-<name>` beside itself, the one name recover() knows how to restore.
 * Deleting or replacing an entry starts here, so a kill never leaves half an entry at its name.
 */
function moveAside(dir: string): string {
  const aside = join(dirname(dir), `.old-${tag()}-${basename(dir)}`);
  renameSync(dir, aside);
  return aside;
}

function removeDir(dir: string): void {
  rmSync(moveAside(dir), { recursive: true, force: true });
}

/**
 * Puts the destination back in order after a killed run: half-built trees are discarded, and an entry
 * caught between the two renames of a swap gets its previous tree back (it is re-verified afterwards).
 */
async function recover(layout: Layout): Promise<void> {
  for (const list of LISTS) {
    const dir = layout.listDir(list);
    for (const name of await readdir(dir)) {
      if (name.startsWith(".tmp-")) rmSync(join(dir, name), { recursive: true, force: true });
      const old = /^\.old-[0-9a-f]{8}-(.+)$/.exec(name);
      if (!old?.[1]) continue;
      if (existsSync(join(dir, old[1]))) rmSync(join(dir, name), { recursive: true, force: true });
      else await rename(join(dir, name), join(dir, old[1]));
    }
  }
}

function describeFailure(err: unknown, entry: PlannedEntry, url: string, attempts: number): string {
  if (err instanceof GitError) {
    const shown = redactUrl(url);
    switch (err.kind) {
      case "missing-repo":
        return `repository ${shown} not found`;
      case "missing-ref":
        return `commit ${entry.ref} does not exist in ${entry.repo} (${err.message})`;
      case "redirect":
        return err.message;
      case "auth":
        return `access to ${shown} was refused${entry.private ? " (private: is MOLECULE_GITEA_TOKEN set and allowed to read it?)" : ""}: ${err.message}`;
      default:
        return `gave up after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${err.message}`;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

export async function stage(opts: StageOptions): Promise<StageResult> {
  const layout = new Layout(opts.dest);
  const { progress } = opts;
  const attempts = Math.max(1, opts.attempts ?? 3);
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  const auth = opts.token
    ? { baseUrl: opts.gitBaseUrl ?? DEFAULT_GIT_BASE_URL, token: opts.token }
    : undefined;
  const run: GitRun = {
    env: gitEnv(opts.env ?? process.env, auth, opts.gitInactivityS),
    timeoutMs: opts.gitTimeoutMs ?? 600_000,
  };

  for (const list of LISTS) {
    // Every list directory exists, even for an empty list: a Dockerfile COPY of a missing source fails.
    await mkdir(layout.listDir(list), { recursive: true });
    // The list directories are COPY sources: their mode reaches the image, so the umask must not decide it.
    await chmod(layout.listDir(list), DIR_MODE);
    await mkdir(join(opts.dest, STATE_DIR, list), { recursive: true });
  }
  const release = acquireLock(layout.lock());
  try {
    await recover(layout);
    const planned = entriesOf(opts.manifest);
    const results: EntryResult[] = [];
    const skipped: SkippedEntry[] = [];
    const failures: StageFailure[] = [];
    const limit = pLimit(Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY));
    progress.start(planned.length);

    const stageEntry = async (entry: PlannedEntry): Promise<void> => {
      const label = labelOf(entry);
      const started = Date.now();
      const target = layout.target(entry);
      const marker = await readMarker(layout.marker(entry));
      // Warm path: no git, no network, just proof that the tree on disk is the one recorded.
      if (marker && marker.ref === entry.ref && marker.repo === entry.repo && existsSync(target)) {
        if (hashTree(target) === marker.digest) {
          results.push({
            list: entry.list,
            name: entry.name,
            ref: entry.ref,
            digest: marker.digest,
            action: "unchanged",
          });
          progress.entryDone(label, "unchanged", Date.now() - started);
          return;
        }
        progress.warn(
          `${label}: staged tree does not match its recorded digest (edited or damaged); re-staging`,
        );
      }
      if (entry.private && !opts.token) {
        if (!opts.allowMissingPrivate) {
          throw new Error(
            "private entry and MOLECULE_GITEA_TOKEN is not set (or pass --allow-missing-private to skip it)",
          );
        }
        // Stale content for a skipped entry must not reach an image as if it were current.
        if (existsSync(target)) removeDir(target);
        await rm(layout.marker(entry), { force: true });
        skipped.push({
          list: entry.list,
          name: entry.name,
          ref: entry.ref,
          reason: "private entry and no token",
        });
        progress.warn(`${label}: skipped (private, no MOLECULE_GITEA_TOKEN; --allow-missing-private)`);
        return;
      }

      progress.entryStarted(label);
      const url = sourceUrl(entry, opts);
      const work = join(layout.listDir(entry.list), `.tmp-${tag()}-${entry.name}`);
      const gitDir = join(work, "git");
      const tree = join(work, "tree");
      // The longest name staging needs (`.old-<tag>-<name>` for the swap is as long): made first, so a name
      // the file system refuses fails here, with nothing fetched, half-written or left without its record.
      try {
        mkdirSync(work);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENAMETOOLONG") throw err;
        throw new TreeError(
          `entry name too long for the file system (ENAMETOOLONG): staging it needs the working name .tmp-<8 hex>-<name>, ${Buffer.byteLength(basename(work))} bytes, in ${layout.listDir(entry.list)}`,
        );
      }
      try {
        for (let attempt = 1; ; attempt++) {
          try {
            rmSync(gitDir, { recursive: true, force: true });
            initBare(gitDir);
            const outcome = await fetchCommit(gitDir, url, entry.ref, run);
            if (outcome.fallback) {
              progress.warn(
                `${label}: ${redactUrl(url)} refused a fetch by SHA; fetched branch and tag history to depth ${outcome.fallback.depth} instead`,
              );
            }
            break;
          } catch (err) {
            if (!(err instanceof GitError) || err.kind !== "transient" || attempt >= attempts) {
              throw new Error(describeFailure(err, entry, url, attempt));
            }
            const delay = retryDelayMs * 2 ** (attempt - 1);
            progress.note(`${label}: attempt ${attempt} failed (${err.message}); retrying in ${delay} ms`);
            await sleep(delay);
          }
        }
        const { time, files, blobs } = await readCommit(gitDir, entry.ref, run);
        const unusable = requiredFileProblems(files, REQUIRED_FILES[entry.list]);
        if (unusable.length > 0) {
          const missing = unusable.every((p) => p.endsWith(" is missing"));
          throw new TreeError(
            `required file${unusable.length === 1 ? "" : "s"} ${missing ? "missing" : "not a regular file"} at ${entry.ref}: ${unusable.join("; ")}`,
          );
        }
        const links = new Map(
          files
            .filter((f) => f.mode === "120000")
            .map((f) => [f.path, blobs.get(f.oid)?.toString("utf8") ?? ""]),
        );
        checkTree(files, links);
        writeTree(tree, files, blobs, time);
        const digest = hashTree(tree);

        // Back to back, with no await between: the entry is missing from its name for two syscalls.
        const old = existsSync(target) ? moveAside(target) : undefined;
        renameSync(tree, target);
        if (old) rmSync(old, { recursive: true, force: true });
        await writeAtomically(
          layout.marker(entry),
          `${JSON.stringify({ repo: entry.repo, ref: entry.ref, digest })}\n`,
        );
        results.push({ list: entry.list, name: entry.name, ref: entry.ref, digest, action: "fetched" });
        progress.entryDone(label, "fetched", Date.now() - started);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    };

    await Promise.all(
      planned.map((entry) =>
        limit(() =>
          stageEntry(entry).catch((err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            failures.push({ list: entry.list, name: entry.name, repo: entry.repo, ref: entry.ref, message });
            progress.entryFailed(labelOf(entry), message);
          }),
        ),
      ),
    );

    // Entries no longer in the manifest leave the tree (the old script kept them forever).
    for (const list of LISTS) {
      const wanted = new Set(opts.manifest[list].map((e) => e.name));
      for (const name of (await readdir(layout.listDir(list))).sort()) {
        if (name.startsWith(".") || wanted.has(name)) continue;
        const marker = await readMarker(layout.marker({ list, name }));
        removeDir(join(layout.listDir(list), name));
        results.push({ list, name, ref: marker?.ref ?? null, digest: null, action: "removed" });
        progress.entryDone(`${list}/${name}`, "removed", 0);
      }
      for (const file of await readdir(join(opts.dest, STATE_DIR, list))) {
        if (!wanted.has(file.replace(/\.json$/, "")))
          await rm(join(opts.dest, STATE_DIR, list, file), { force: true });
      }
    }
    if (failures.length > 0) throw new StageError(failures);

    // Manifest order, removed entries last: stable output for diffs and for the Command's recorded stdout.
    const order = new Map(planned.map((e, i) => [labelOf(e), i]));
    const rank = (r: EntryResult) => order.get(labelOf(r)) ?? planned.length;
    results.sort((a, b) => rank(a) - rank(b) || labelOf(a).localeCompare(labelOf(b)));
    const staged = results.flatMap((r) =>
      r.digest ? [{ list: r.list, name: r.name, digest: r.digest }] : [],
    );
    return { digest: combinedDigest(staged), entries: results, skipped };
  } finally {
    progress.stop();
    release();
  }
}
