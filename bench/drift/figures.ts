/**
 * bench:drift's arithmetic: medians per mode, each repository's own check (its median over the rounds),
 * the slowest of those, and how the 50-repository check compares with it against the goal.
 */
import { median } from "../lib/stats";

/** The 50-repository check may take at most this many times the slowest single repository's check. */
export const GOAL_RATIO = 2;

export interface Run {
  mode: "serial" | "pool";
  ms: number;
  requests: number;
  /** Most requests the registry (the proxy in front of it) had in flight at once. */
  peakInFlight: number;
  /** The check's own CPU time. */
  cpuMs: number;
}

/** One repository checked alone, in one round. */
export interface SingleRun {
  round: number;
  repository: string;
  ms: number;
  requests: number;
  peakInFlight: number;
  cpuMs: number;
}

export function figures(runs: Run[], singles: SingleRun[], repos: number) {
  const serial = runs.filter((r) => r.mode === "serial");
  const pooled = runs.filter((r) => r.mode === "pool");
  const serialMed = median(serial.map((r) => r.ms));
  const poolMed = median(pooled.map((r) => r.ms));
  const single = singleFigures(singles);
  const ratio = poolMed / single.slowest.ms;
  return {
    serial,
    pooled,
    serialMed,
    poolMed,
    perRepo: (serial[0]?.requests ?? 0) / repos,
    single,
    ratio,
    met: ratio <= GOAL_RATIO,
    cpuMed: {
      serial: median(serial.map((r) => r.cpuMs)),
      pool: median(pooled.map((r) => r.cpuMs)),
      single: median(singles.map((r) => r.cpuMs)),
    },
    peak: {
      serial: Math.max(0, ...serial.map((r) => r.peakInFlight)),
      pool: Math.max(0, ...pooled.map((r) => r.peakInFlight)),
      single: Math.max(0, ...singles.map((r) => r.peakInFlight)),
    },
  };
}

export type Figures = ReturnType<typeof figures>;

/**
 * Each repository's median over the rounds, so one noisy round does not make a repository "the slowest";
 * the slowest is the largest of those medians.
 */
export function singleFigures(singles: SingleRun[]) {
  const byRepo = new Map<string, number[]>();
  for (const s of singles) byRepo.set(s.repository, [...(byRepo.get(s.repository) ?? []), s.ms]);
  const medians = [...byRepo].map(([repository, ms]) => ({ repository, ms: median(ms) }));
  if (medians.length === 0) throw new Error("no single-repository runs");
  const slowest = medians.reduce((a, b) => (b.ms > a.ms ? b : a));
  return { medians, slowest, medianOfMedians: median(medians.map((m) => m.ms)) };
}
