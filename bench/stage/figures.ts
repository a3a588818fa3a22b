/**
 * bench:stage's headline figures from its runs. Medians are taken over the quiet runs of a phase when it
 * has any: a run during which other processes kept a core busy says more about them than about the stager
 * (all runs stay in the JSON).
 */
import { median } from "../lib/stats";
import type { FixtureEntry } from "./fixtures";
import { type Floor, networkFloor } from "./floor";
import type { Measured } from "./measure";
import type { BaselineRun } from "./old-script";
import type { StageRuns } from "./result";
import { BUSY_CORES, GOALS, WORKLOAD } from "./workload";

/** Other processes took at most BUSY_CORES on average during the run. */
export const isQuiet = (r: Measured): boolean => r.cpu.otherMs / r.wallMs <= BUSY_CORES;

/** A phase's quiet runs, or all of them when none was quiet. */
export const pickQuiet = <T extends Measured>(rs: T[]): T[] => (rs.some(isQuiet) ? rs.filter(isQuiet) : rs);

/** The old script's wall time without the object counting the bench added to it. */
export const baselineWall = (b: BaselineRun): number => b.wallExclCountingMs;
export const wall = (r: Measured): number => r.wallMs;

export interface Figures {
  startupMs: number;
  baselineMs: number;
  coldMs: number;
  warmMs: number;
  coldSpeedup: number;
  warmOverheadMs: number;
  warmRequests: number;
  /** What the emulated network and start-up alone cost the cold run, and the cold time over it. */
  floor: Floor;
  floorRatio: number;
  /** The staged digest of every cold run: one, or the runs staged different trees. */
  digests: Set<string | undefined>;
  /** Same tree as the old script's, modes as committed, no .git, one digest: else the comparison is void. */
  correct: boolean;
  /** Objects a depth-1 fetch of every entry transfers, and a full clone of every entry. */
  objectsHead: number;
  objectsAll: number;
}

export function computeFigures(runs: StageRuns, entries: FixtureEntry[]): Figures {
  const startupMs = median(pickQuiet(runs.startup).map(wall));
  const baselineMs = median(pickQuiet(runs.baseline).map(baselineWall));
  const coldMs = median(pickQuiet(runs.cold).map(wall));
  const warmMs = median(pickQuiet(runs.warm).map(wall));
  const quietCold = pickQuiet(runs.cold);
  const floor = networkFloor({
    requests: median(quietCold.map((r) => r.requests)),
    bytesOut: median(quietCold.map((r) => r.bytesOut)),
    concurrency: runs.cold[0]?.concurrency ?? 1,
    latencyMs: WORKLOAD.latencyMs,
    bandwidthBytesPerSec: WORKLOAD.bandwidthBytesPerSec,
    startupMs,
  });
  const digests = new Set([...runs.cold, ...runs.sweep, runs.profile].map((r) => r.digest));
  const c = runs.correctness;
  return {
    startupMs,
    baselineMs,
    coldMs,
    warmMs,
    coldSpeedup: baselineMs / coldMs,
    warmOverheadMs: warmMs - startupMs,
    warmRequests: Math.max(...runs.warm.map((w) => w.requests)),
    floor,
    floorRatio: coldMs / floor.totalMs,
    digests,
    correct:
      c.contentProblems.length === 0 &&
      c.modeProblems.length === 0 &&
      c.gitDirs.length === 0 &&
      digests.size === 1,
    objectsHead: entries.reduce((s, e) => s + e.objectsHead, 0),
    objectsAll: entries.reduce((s, e) => s + e.objectsAll, 0),
  };
}

/** Each goal with its figure and whether it was met, as the summary prints and the JSON records them. */
export function goals(f: Figures) {
  return {
    coldSpeedup: { value: f.coldSpeedup, goal: GOALS.coldSpeedup, met: f.coldSpeedup >= GOALS.coldSpeedup },
    floorRatio: { value: f.floorRatio, goal: GOALS.floorRatio, met: f.floorRatio <= GOALS.floorRatio },
    warmOverheadMs: {
      value: f.warmOverheadMs,
      goal: GOALS.warmOverheadMs,
      met: f.warmOverheadMs <= GOALS.warmOverheadMs,
    },
    warmRequests: {
      value: f.warmRequests,
      goal: GOALS.warmRequests,
      met: f.warmRequests <= GOALS.warmRequests,
    },
  };
}
