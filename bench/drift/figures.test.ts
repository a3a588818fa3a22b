import { describe, expect, it } from "vitest";
import { figures, type Run, type SingleRun, singleFigures } from "./figures";

const single = (round: number, repository: string, ms: number): SingleRun => ({
  round,
  repository,
  ms,
  requests: 12,
  peakInFlight: 4,
  cpuMs: ms / 10,
});

describe("singleFigures", () => {
  it("takes each repository's median over the rounds, and the slowest of those medians", () => {
    const f = singleFigures([
      single(0, "a", 100),
      single(1, "a", 900), // one noisy round does not make `a` the slowest
      single(2, "a", 110),
      single(0, "b", 150),
      single(1, "b", 140),
      single(2, "b", 160),
    ]);
    expect(f.slowest).toEqual({ repository: "b", ms: 150 });
    expect(f.medians).toEqual([
      { repository: "a", ms: 110 },
      { repository: "b", ms: 150 },
    ]);
    expect(f.medianOfMedians).toBe(130);
  });

  it("refuses to compare against nothing", () => {
    expect(() => singleFigures([])).toThrow(/no single-repository runs/);
  });
});

describe("figures", () => {
  const run = (mode: Run["mode"], ms: number, peakInFlight: number): Run => ({
    mode,
    ms,
    requests: 600,
    peakInFlight,
    cpuMs: ms / 2,
  });

  it("compares the pooled median with the slowest single check against the 2x goal", () => {
    const runs = [run("serial", 5000, 4), run("pool", 300, 60), run("pool", 500, 64), run("pool", 320, 50)];
    const f = figures(runs, [single(0, "a", 100), single(0, "b", 200)], 50);
    expect(f.poolMed).toBe(320);
    expect(f.ratio).toBeCloseTo(1.6);
    expect(f.met).toBe(true);
    expect(f.perRepo).toBe(12);
    expect(f.peak).toEqual({ serial: 4, pool: 64, single: 4 });
    expect(f.cpuMed).toEqual({ serial: 2500, pool: 160, single: 15 });
  });

  it("misses the goal above 2x", () => {
    const f = figures([run("serial", 5000, 4), run("pool", 820, 64)], [single(0, "a", 100)], 50);
    expect(f.ratio).toBeCloseTo(8.2);
    expect(f.met).toBe(false);
  });
});
