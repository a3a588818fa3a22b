/** bench:stage's raw numbers (bench/out/stage.json): every run of every phase, and the figures made from them. */
import { DEFAULT_CONCURRENCY } from "../../lib/templates/stager";
import { goals, isQuiet } from "./figures";
import type { Measured } from "./measure";
import type { StageResult } from "./result";
import { BUSY_CORES, countBy, WORKLOAD } from "./workload";

/** A run without its output streams, with whether it was quiet and how many cores other load took. */
export function strip<T extends Measured>(m: T) {
  const { stdout: _o, stderr: _e, ...rest } = m;
  return { ...rest, quiet: isQuiet(m), otherCores: m.cpu.otherMs / m.wallMs };
}

export function stageReport({
  workload,
  runs,
  figures: f,
  machine,
  clkTck,
  loadBefore,
  loadAfter,
}: StageResult) {
  const { entries } = workload;
  return {
    generatedAt: new Date().toISOString(),
    environment: { ...machine, clkTck, loadAvgBefore: loadBefore, loadAvgAfter: loadAfter },
    workload: {
      ...WORKLOAD,
      entries: entries.length,
      lists: countBy(entries),
      fixtureBuildMs: workload.fixturesMs,
      defaultConcurrency: DEFAULT_CONCURRENCY,
      objectsHeadTotal: f.objectsHead,
      objectsAllTotal: f.objectsAll,
      repos: entries,
    },
    goals: goals(f),
    medians: {
      startupMs: f.startupMs,
      baselineMs: f.baselineMs,
      coldMs: f.coldMs,
      warmMs: f.warmMs,
      networkFloor: f.floor,
      coldOverFloor: f.floorRatio,
      overQuietRunsWhereAny: true,
      busyCores: BUSY_CORES,
    },
    startup: runs.startup.map(strip),
    baseline: runs.baseline.map(strip),
    cold: runs.cold.map(strip),
    warm: runs.warm.map(strip),
    concurrencySweep: runs.sweep.map(strip),
    profile: { ...strip(runs.profile), perEntry: runs.perEntry },
    correctness: { ...runs.correctness, ok: f.correct, digests: [...f.digests] },
  };
}
