/**
 * Stages every manifest entry at its pinned commit into `<dest>/<list dir>/<name>`.
 *
 * What the old clone script got wrong, and what this does instead:
 * - full serial clones (OOM-killed mid-run) -> one commit at depth 1, bounded parallelism, retries;
 * - "skip if the directory is non-empty" (stale content after a ref bump) -> a recorded ref and digest
 *   per entry, verified against the tree on disk every run;
 * - token in the clone URL -> an HTTP header passed through git's environment config, each token only to
 *   its own host (the git host's to --git-base-url, GitHub's to --github-base-url);
 * - partial trees after a kill -> build beside the target, then swap it in with renames.
 *
 * What it may delete: only inside a destination it owns (see destination.ts), and there only in the list
 * directories and its own bookkeeping, never through a symlink.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import pLimit from "p-limit";
import {
  entriesOf,
  LIST_DIRS,
  LISTS,
  type ListName,
  type Manifest,
  type PlannedEntry,
} from "../manifest/contract";
import {
  adopt,
  checkOwnedLayout,
  DestinationError,
  ensureDir,
  lstatOrUndefined,
  OWNER_FILE,
  ownership,
  STATE_DIR,
} from "./destination";
import { type GitAuth, gitRun } from "./git/env";
import { GitError, redactUrl } from "./git/failure";
import { fetchCommit, initBare } from "./git/fetch";
import { DEFAULT_INACTIVITY_S, type GitRun } from "./git/process";
import { readCommit } from "./git/read-commit";
import { acquireLock } from "./lock";
import type { Progress } from "./progress";
import { checkTree, DIR_MODE, FILE_MODE, hashTree, requiredFileProblems, TreeError, writeTree } from "./tree";

export { DestinationError };

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
/** Tries per entry for transient failures, and the first retry delay (doubled after each try). */
export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_RETRY_DELAY_MS = 1000;
/** What killing a timed-out git's process group and starting the next try may add to each try. */
export const GIT_KILL_SLACK_MS = 2000;

/**
 * The longest an entry can take against a server that accepts connections and never answers: each try
 * ends at its first silent wait (a git operation or a redirect probe, each bounded by the inactivity
 * bound), and the retry delays come between the tries.
 */
export function silentServerBoundMs(
  attempts = DEFAULT_ATTEMPTS,
  inactivityS = DEFAULT_INACTIVITY_S,
  retryDelayMs = DEFAULT_RETRY_DELAY_MS,
): number {
  let delays = 0;
  for (let i = 1; i < attempts; i++) delays += retryDelayMs * 2 ** (i - 1);
  return attempts * (inactivityS * 1000 + GIT_KILL_SLACK_MS) + delays;
}

export type Action = "fetched" | "unchanged" | "removed" | "failed";

export interface EntryResult {
  list: ListName;
  name: string;
  ref: string | null;
  digest: string | null;
  action: Action;
  /** Why, for `failed` only. */
  error?: string;
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

/**
 * What a failed run did, the same document: a failed run may already have replaced or removed entries,
 * and the next run would report those as unchanged (or not at all). No overall digest: what is staged
 * now is not the manifest's.
 */
export interface FailedStageResult {
  digest: null;
  entries: EntryResult[];
  skipped: SkippedEntry[];
}

export interface StageFailure {
  list: ListName;
  name: string;
  /** The entry's; absent for a name the manifest does not have (one the stager could not remove). */
  repo?: string;
  ref?: string;
  message: string;
}

const labelOf = (e: { list: ListName; name: string }) => `${e.list}/${e.name}`;
const sourceOf = (e: { repo?: string; ref?: string }) =>
  e.repo && e.ref ? `${e.repo} @ ${e.ref}` : undefined;

export class StageError extends Error {
  constructor(
    readonly failures: StageFailure[],
    readonly result: FailedStageResult,
  ) {
    super(
      `staging failed for ${failures.length} entr${failures.length === 1 ? "y" : "ies"}:\n${failures
        .map((f) => `  ${labelOf(f)}${sourceOf(f) ? ` (${sourceOf(f)})` : ""}: ${f.message}`)
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
  /** Read-only token for `provider: "github"` entries; sent only to `githubBaseUrl`. */
  githubToken?: string;
  /** Attempts per entry for transient failures. */
  attempts?: number;
  retryDelayMs?: number;
  /** Hard cap on one git process (a backstop); default 10 minutes. */
  gitTimeoutMs?: number;
  /**
   * Inactivity bound (default 30 s): a git operation that prints no output or progress for this long is
   * killed with its process group, and a transfer under a byte a second for this long fails.
   */
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
  stateDir(list?: ListName) {
    return list ? join(this.dest, STATE_DIR, list) : join(this.dest, STATE_DIR);
  }
  marker(e: { list: ListName; name: string }) {
    return join(this.stateDir(e.list), `${e.name}.json`);
  }
  lock() {
    return join(this.dest, STATE_DIR, "lock");
  }
  /** Every directory the stager manages, bookkeeping included. */
  managedDirs() {
    return LISTS.flatMap((list) => [this.listDir(list), this.stateDir(list)]);
  }
}

function readMarker(path: string): Marker | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Marker;
  } catch {
    return undefined;
  }
}

const markerOf = (entry: PlannedEntry, digest: string) =>
  `${JSON.stringify({ repo: entry.repo, ref: entry.ref, digest })}\n`;

/** The record names this entry's repo and ref: the tree on disk should then be that commit's. */
const recordedAt = (marker: Marker | undefined, entry: PlannedEntry): marker is Marker =>
  marker !== undefined && marker.ref === entry.ref && marker.repo === entry.repo;

/** Proof that the tree at `target` is the recorded one: a real directory, mode 0755, the recorded digest. */
function intact(target: string, marker: Marker): boolean {
  const st = lstatOrUndefined(target);
  if (!st?.isDirectory() || (st.mode & 0o7777) !== DIR_MODE) return false;
  return hashTree(target) === marker.digest;
}

/**
 * The temporary name is short (`.tmp-<tag>` beside the file, removed by the bookkeeping sweep if a kill
 * leaves it): a name derived from the file's own would fail for names that fit on their own. The mode
 * is set explicitly: the bookkeeping is in the build context too, and the umask must not decide it.
 */
function writeAtomically(path: string, content: string): void {
  const tmp = join(dirname(path), `.tmp-${tag()}`);
  writeFileSync(tmp, content, { mode: FILE_MODE });
  chmodSync(tmp, FILE_MODE);
  renameSync(tmp, path);
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

/** Deletes a name in a list directory (an entry, or a stray file or dot-entry): never through a link. */
function removeDir(dir: string): void {
  let doomed = dir;
  try {
    doomed = moveAside(dir);
  } catch (err) {
    // A stray whose name is too long to prefix: deleted in place (a kill leaves a stray, removed next run).
    if ((err as NodeJS.ErrnoException).code !== "ENAMETOOLONG") throw err;
  }
  rmSync(doomed, { recursive: true, force: true });
}

/**
 * Puts the destination back in order after a killed run: half-built trees are discarded, and an entry
 * caught between the two renames of a swap gets its previous tree back (it is re-verified afterwards).
 */
function recover(layout: Layout): void {
  for (const list of LISTS) {
    const dir = layout.listDir(list);
    for (const name of readdirSync(dir)) {
      if (name.startsWith(".tmp-")) rmSync(join(dir, name), { recursive: true, force: true });
      const old = /^\.old-[0-9a-f]{8}-(.+)$/.exec(name);
      if (!old?.[1]) continue;
      if (lstatOrUndefined(join(dir, old[1]))) rmSync(join(dir, name), { recursive: true, force: true });
      else renameSync(join(dir, name), join(dir, old[1]));
    }
  }
}

/** The variable each entry's token comes from: each provider's host has its own. */
const tokenVariableOf = (entry: { provider?: string }) =>
  entry.provider === "github" ? "MOLECULE_GITHUB_TOKEN" : "MOLECULE_GITEA_TOKEN";
const tokenOf = (entry: PlannedEntry, opts: StageOptions) =>
  entry.provider === "github" ? opts.githubToken : opts.token;
const privateNoToken = (entry: PlannedEntry) =>
  `private entry and ${tokenVariableOf(entry)} is not set (or pass --allow-missing-private to skip it)`;
const skipOf = (entry: PlannedEntry): SkippedEntry => ({
  list: entry.list,
  name: entry.name,
  ref: entry.ref,
  reason: `private entry and no ${tokenVariableOf(entry)}`,
});
const skipWarning = (s: SkippedEntry) => `${labelOf(s)}: skipped (${s.reason}; --allow-missing-private)`;

interface Outcome {
  results: EntryResult[];
  skipped: SkippedEntry[];
  failures: StageFailure[];
}

/**
 * The outcome of a run that would write nothing at all, found by reading only; undefined as soon as
 * anything would be written (an entry to fetch, replace or delete, a stray, a mode to set, a lock to
 * take over). Everything it accepts is exactly what the locked run would leave as it is, so returning
 * this outcome is that run, minus its writes.
 */
function unchangedOutcome(layout: Layout, planned: PlannedEntry[], opts: StageOptions): Outcome | undefined {
  const is = (path: string, mode: number, dir: boolean) => {
    const st = lstatOrUndefined(path);
    return st !== undefined && (dir ? st.isDirectory() : st.isFile()) && (st.mode & 0o7777) === mode;
  };
  if ((statSync(layout.dest).mode & 0o7777) !== DIR_MODE) return undefined;
  if (!is(layout.stateDir(), DIR_MODE, true) || !is(join(layout.stateDir(), OWNER_FILE), FILE_MODE, false))
    return undefined;
  // A lock, live or left by a kill: the locked run refuses the first and removes the second.
  if (lstatOrUndefined(layout.lock())) return undefined;
  for (const list of LISTS) {
    if (!is(layout.listDir(list), DIR_MODE, true) || !is(layout.stateDir(list), DIR_MODE, true))
      return undefined;
    const wanted = new Set(opts.manifest[list].map((e) => e.name));
    if (readdirSync(layout.listDir(list)).some((name) => !wanted.has(name))) return undefined;
    if (readdirSync(layout.stateDir(list)).some((f) => !f.endsWith(".json") || !wanted.has(f.slice(0, -5))))
      return undefined;
  }
  const outcome: Outcome = { results: [], skipped: [], failures: [] };
  const toHash: Array<[PlannedEntry, Marker]> = [];
  // Cheap checks for every entry first, hashing last: a bumped ref is found without reading any tree.
  for (const entry of planned) {
    if (entry.private && !tokenOf(entry, opts)) {
      if (!opts.allowMissingPrivate) {
        outcome.failures.push({ ...failureOf(entry), message: privateNoToken(entry) });
        continue;
      }
      if (lstatOrUndefined(layout.target(entry)) || lstatOrUndefined(layout.marker(entry))) return undefined;
      outcome.skipped.push(skipOf(entry));
      continue;
    }
    const marker = readMarker(layout.marker(entry));
    if (!recordedAt(marker, entry) || !lstatOrUndefined(layout.target(entry))?.isDirectory())
      return undefined;
    toHash.push([entry, marker]);
  }
  for (const [entry, marker] of toHash) {
    if (!intact(layout.target(entry), marker)) return undefined;
    const { list, name, ref } = entry;
    outcome.results.push({ list, name, ref, digest: marker.digest, action: "unchanged" });
  }
  return outcome;
}

const failureOf = (entry: PlannedEntry) => ({
  list: entry.list,
  name: entry.name,
  repo: entry.repo,
  ref: entry.ref,
});

/**
 * The result, or a StageError carrying it with the failed entries among the rest: manifest order, names
 * the manifest does not have last (stable for diffs and logs).
 */
function finish(planned: PlannedEntry[], { results, skipped, failures }: Outcome): StageResult {
  const entries: EntryResult[] = [
    ...results,
    ...failures.map((f) => ({
      list: f.list,
      name: f.name,
      ref: f.ref ?? null,
      digest: null,
      action: "failed" as const,
      error: f.message,
    })),
  ];
  const order = new Map(planned.map((e, i) => [labelOf(e), i]));
  const rank = (r: EntryResult) => order.get(labelOf(r)) ?? planned.length;
  entries.sort((a, b) => rank(a) - rank(b) || labelOf(a).localeCompare(labelOf(b)));
  if (failures.length > 0) throw new StageError(failures, { digest: null, entries, skipped });
  const staged = entries.flatMap((r) => (r.digest ? [{ list: r.list, name: r.name, digest: r.digest }] : []));
  return { digest: combinedDigest(staged), entries, skipped };
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
        return `access to ${shown} was refused${entry.private ? ` (private: is ${tokenVariableOf(entry)} set and allowed to read it?)` : ""}: ${err.message}`;
      default:
        return `gave up after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${err.message}`;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

export async function stage(opts: StageOptions): Promise<StageResult> {
  const layout = new Layout(opts.dest);
  const { progress } = opts;
  const attempts = Math.max(1, opts.attempts ?? DEFAULT_ATTEMPTS);
  const retryDelayMs = opts.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  // Each token goes to its own host only; the two hosts' tokens never meet (refused if both are one host).
  const auths: GitAuth[] = [];
  if (opts.token) auths.push({ baseUrl: opts.gitBaseUrl ?? DEFAULT_GIT_BASE_URL, token: opts.token });
  if (opts.githubToken) {
    const baseUrl = opts.githubBaseUrl ?? DEFAULT_GITHUB_BASE_URL;
    auths.push({ baseUrl, token: opts.githubToken, user: "x-access-token" });
  }
  const run: GitRun = gitRun({
    base: opts.env ?? process.env,
    auths,
    inactivityS: opts.gitInactivityS,
    timeoutMs: opts.gitTimeoutMs,
  });

  const planned = entriesOf(opts.manifest);
  // Read-only checks first: a destination the stager does not own, or one with a symlink where it manages
  // a directory, is refused before anything is written (DestinationError, exit 2).
  const owned = ownership(opts.dest);
  if (owned === "owned") checkOwnedLayout(opts.dest, layout.managedDirs());

  // A run that changes nothing writes nothing, not even the lock: a warm run must work on a read-only
  // destination (a read-only bind mount, a cache restored read-only, another user's checkout). The lock
  // stays in the destination (`.molecule-stage/lock`, beside what it guards: a lock elsewhere, in /tmp
  // say, would not be seen by a stager in another container sharing the directory). It guards writes, so a
  // run that only reads needs none: unchangedOutcome() proves, by reading only, that the locked run would
  // change nothing, and any doubt (something to fetch, delete or chmod, or any lock file present, a live
  // holder's or a dead one's) falls through to the locked run, which verifies everything again.
  if (owned === "owned") {
    const outcome = unchangedOutcome(layout, planned, opts);
    if (outcome) {
      try {
        progress.start(planned.length);
        for (const r of outcome.results) progress.entryDone(labelOf(r), "unchanged", 0);
        for (const s of outcome.skipped) progress.warn(skipWarning(s));
        for (const f of outcome.failures) progress.entryFailed(labelOf(f), f.message, sourceOf(f));
        return finish(planned, outcome);
      } finally {
        progress.stop();
      }
    }
  } else {
    adopt(opts.dest);
  }
  ensureDir(opts.dest, layout.stateDir());
  const release = acquireLock(layout.lock());
  try {
    // Dest itself, the list directories and the bookkeeping are in the build context: 0755 whatever the
    // umask, set only where it differs (a run that changes nothing sets nothing).
    if ((statSync(opts.dest).mode & 0o7777) !== DIR_MODE) chmodSync(opts.dest, DIR_MODE);
    for (const list of LISTS) {
      // Every list directory exists, even for an empty list: a Dockerfile COPY of a missing source fails.
      ensureDir(opts.dest, layout.listDir(list));
      ensureDir(opts.dest, layout.stateDir(list));
    }
    // Under the lock, before the first deletion: nothing changed the layout since it was checked.
    checkOwnedLayout(opts.dest, layout.managedDirs());
    recover(layout);
    const results: EntryResult[] = [];
    const skipped: SkippedEntry[] = [];
    const failures: StageFailure[] = [];
    const limit = pLimit(Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY));
    progress.start(planned.length);

    const stageEntry = async (entry: PlannedEntry): Promise<void> => {
      const label = labelOf(entry);
      const started = Date.now();
      const target = layout.target(entry);
      const marker = readMarker(layout.marker(entry));
      // Warm path: no git, no network, just proof that the tree on disk is the one recorded.
      if (recordedAt(marker, entry) && lstatOrUndefined(target)) {
        if (intact(target, marker)) {
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
      if (entry.private && !tokenOf(entry, opts)) {
        if (!opts.allowMissingPrivate) throw new Error(privateNoToken(entry));
        // Stale content for a skipped entry must not reach an image as if it were current.
        if (lstatOrUndefined(target)) removeDir(target);
        if (lstatOrUndefined(layout.marker(entry))) rmSync(layout.marker(entry), { force: true });
        const skip = skipOf(entry);
        skipped.push(skip);
        progress.warn(skipWarning(skip));
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
        // The pinned tree only; blobs go from git straight into their files, never whole into memory.
        const commit = await readCommit(gitDir, entry.ref, run);
        try {
          const { time, files, links } = commit;
          const unusable = requiredFileProblems(files, REQUIRED_FILES[entry.list]);
          if (unusable.length > 0) {
            const missing = unusable.every((p) => p.endsWith(" is missing"));
            throw new TreeError(
              `required file${unusable.length === 1 ? "" : "s"} ${missing ? "missing" : "not a regular file"} at ${entry.ref}: ${unusable.join("; ")}`,
            );
          }
          checkTree(files, links);
          await writeTree(tree, files, links, time, commit);
        } finally {
          await commit.close();
        }
        const digest = hashTree(tree);

        // Back to back, with no await between: the entry is missing from its name for two syscalls.
        const old = lstatOrUndefined(target) ? moveAside(target) : undefined;
        renameSync(tree, target);
        if (old) rmSync(old, { recursive: true, force: true });
        writeAtomically(layout.marker(entry), markerOf(entry, digest));
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
            progress.entryFailed(labelOf(entry), message, sourceOf(entry));
          }),
        ),
      ),
    );

    // Each list directory ends holding exactly the manifest's entries: entries no longer in it leave the
    // tree (the old script kept them forever), and so does anything else, dot-entries included (a
    // .DS_Store would otherwise be COPYed into the image). This run's own .tmp-/.old- names are gone by
    // now (every entry's work is done), and a killed run's were settled by recover().
    for (const list of LISTS) {
      const wanted = new Set(opts.manifest[list].map((e) => e.name));
      // A name that cannot be deleted fails as a name, like an entry: the rest of the sweep still runs, and
      // the document still says what this run did.
      const failed = (name: string, what: string, err: unknown, marker?: Marker) => {
        const message = `not in the manifest, and ${what} could not be deleted: ${(err as Error).message ?? err}`;
        const failure = { list, name, repo: marker?.repo, ref: marker?.ref, message };
        failures.push(failure);
        progress.entryFailed(labelOf(failure), message, sourceOf(failure));
      };
      for (const name of readdirSync(layout.listDir(list)).sort()) {
        if (wanted.has(name)) continue;
        const marker = name.startsWith(".") ? undefined : readMarker(layout.marker({ list, name }));
        try {
          removeDir(join(layout.listDir(list), name));
        } catch (err) {
          failed(name, "it", err, marker);
          continue;
        }
        if (name.startsWith(".")) {
          progress.note(`${LIST_DIRS[list]}/${name}: removed (not a manifest entry)`);
          continue;
        }
        results.push({ list, name, ref: marker?.ref ?? null, digest: null, action: "removed" });
        progress.entryDone(`${list}/${name}`, "removed", 0);
      }
      for (const file of readdirSync(layout.stateDir(list))) {
        if (file.endsWith(".json") && wanted.has(file.slice(0, -5))) continue;
        try {
          rmSync(join(layout.stateDir(list), file), { recursive: true, force: true });
        } catch (err) {
          failed(file.replace(/\.json$/, ""), `its record ${STATE_DIR}/${list}/${file}`, err);
        }
      }
    }
    return finish(planned, { results, skipped, failures });
  } finally {
    progress.stop();
    release();
  }
}
