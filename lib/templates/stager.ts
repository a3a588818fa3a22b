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
 *
 * A run is a sequence of steps (steps/): plan, warm check, then under the lock each entry's fetch,
 * verify, write and swap, and last the prune of what the manifest no longer names.
 */
import { chmodSync, statSync } from "node:fs";
import pLimit from "p-limit";
import { LISTS } from "../manifest/contract";
import { adopt, checkOwnedLayout, DestinationError, ensureDir, ownership } from "./destination";
import { Fingerprints } from "./fingerprints";
import { Layout } from "./layout";
import { acquireLock } from "./lock";
import type { StageOptions } from "./options";
import { finish, type Outcome, type StageResult } from "./result";
import { stageEntry } from "./steps/entry";
import { planStage } from "./steps/plan";
import { prune } from "./steps/prune";
import { recover } from "./steps/swap";
import { reportUnchanged, unchangedOutcome } from "./steps/warm";
import { DIR_MODE } from "./tree";

export {
  DEFAULT_ATTEMPTS,
  DEFAULT_CONCURRENCY,
  DEFAULT_GIT_BASE_URL,
  DEFAULT_GITHUB_BASE_URL,
  DEFAULT_RETRY_DELAY_MS,
  GIT_KILL_SLACK_MS,
  type StageOptions,
  silentServerBoundMs,
} from "./options";
export {
  type Action,
  combinedDigest,
  type EntryResult,
  type FailedStageResult,
  type SkippedEntry,
  StageError,
  type StageFailure,
  type StageResult,
} from "./result";
export { REQUIRED_FILES } from "./steps/verify";
export { DestinationError };

/**
 * The destination as the locked run needs it: 0755 throughout (it is in the build context, whatever the
 * umask, set only where it differs), every list directory present, nothing changed since it was checked,
 * and a killed run's leftovers settled.
 */
function prepareLocked(layout: Layout): void {
  if ((statSync(layout.dest).mode & 0o7777) !== DIR_MODE) chmodSync(layout.dest, DIR_MODE);
  for (const list of LISTS) {
    // Every list directory exists, even for an empty list: a Dockerfile COPY of a missing source fails.
    ensureDir(layout.dest, layout.listDir(list));
    ensureDir(layout.dest, layout.stateDir(list));
  }
  // Under the lock, before the first deletion: nothing changed the layout since it was checked.
  checkOwnedLayout(layout.dest, layout.managedDirs());
  recover(layout);
}

export async function stage(opts: StageOptions): Promise<StageResult> {
  const layout = new Layout(opts.dest);
  const { progress } = opts;
  const plan = planStage(opts);

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
  const fingerprints = new Fingerprints(opts.dest, opts.fingerprintCache);
  if (owned === "owned") {
    const outcome = unchangedOutcome(layout, plan.planned, opts, fingerprints);
    // Fingerprints go to the user's cache, outside the destination: a run that changes nothing still writes
    // nothing in the destination.
    fingerprints.save();
    if (outcome) return reportUnchanged(plan.planned, outcome, progress);
  } else {
    adopt(opts.dest);
  }
  ensureDir(opts.dest, layout.stateDir());
  const release = acquireLock(layout.lock());
  try {
    prepareLocked(layout);
    const outcome: Outcome = { results: [], skipped: [], failures: [] };
    const limit = pLimit(plan.concurrency);
    progress.start(plan.planned.length);
    const ctx = { opts, plan, layout, outcome, fingerprints, silentHosts: new Map<string, string>() };
    await Promise.all(plan.planned.map((entry) => limit(() => stageEntry(entry, ctx))));
    fingerprints.save();
    prune(layout, opts.manifest, outcome, progress);
    return finish(plan.planned, outcome);
  } finally {
    progress.stop();
    release();
  }
}
