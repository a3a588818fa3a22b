import { describe, expect, it } from "vitest";
import { computeFigures, goals, isQuiet, pickQuiet } from "./figures";
import type { FixtureEntry } from "./fixtures";
import { baselineRun, cliRun, coldRun, measured, stageRuns } from "./test-runs";

const entries = [
  { objectsHead: 10, objectsAll: 100 },
  { objectsHead: 5, objectsAll: 900 },
] as FixtureEntry[];

describe("quiet runs", () => {
  it("is quiet up to 0.2 cores of other load on average", () => {
    expect(isQuiet(measured({ wallMs: 1000, otherMs: 200 }))).toBe(true);
    expect(isQuiet(measured({ wallMs: 1000, otherMs: 201 }))).toBe(false);
  });
  it("keeps the quiet runs of a phase, or all of them when none was quiet", () => {
    const quiet = measured({ otherMs: 0 });
    const busy = measured({ otherMs: 900 });
    expect(pickQuiet([busy, quiet])).toEqual([quiet]);
    expect(pickQuiet([busy, busy])).toHaveLength(2);
  });
});

describe("computeFigures", () => {
  it("takes medians over quiet runs: a busy slow run does not move the figure", () => {
    const runs = stageRuns({
      cold: [coldRun({ wallMs: 2000 }), coldRun({ wallMs: 9000, otherMs: 5000 }), coldRun({ wallMs: 2200 })],
    });
    expect(computeFigures(runs, entries).coldMs).toBe(2100);
  });

  it("uses the baseline's wall time without the bench's object counting", () => {
    const runs = stageRuns({ baseline: [baselineRun({ wallMs: 21_000, wallExclCountingMs: 20_000 })] });
    const f = computeFigures(runs, entries);
    expect(f.baselineMs).toBe(20_000);
    expect(f.coldSpeedup).toBe(10);
  });

  it("gives the warm overhead over start-up and the most requests of any warm run", () => {
    const runs = stageRuns({
      startup: [measured({ wallMs: 500 })],
      warm: [
        cliRun({ wallMs: 560, requests: 0 }),
        cliRun({ wallMs: 580, requests: 3 }),
        cliRun({ wallMs: 570 }),
      ],
    });
    const f = computeFigures(runs, entries);
    expect(f.warmOverheadMs).toBe(70);
    expect(f.warmRequests).toBe(3);
  });

  it("sums the objects of every entry", () => {
    expect(computeFigures(stageRuns(), entries)).toMatchObject({ objectsHead: 15, objectsAll: 1000 });
  });

  it("is correct only with identical trees and one digest over every cold run", () => {
    expect(computeFigures(stageRuns(), entries).correct).toBe(true);
    const twoDigests = stageRuns({ profile: coldRun({ digest: "sha256:other" }) });
    expect(computeFigures(twoDigests, entries).correct).toBe(false);
    expect(computeFigures(twoDigests, entries).digests.size).toBe(2);
    const modes = stageRuns({
      correctness: { entries: 1, files: 1, contentProblems: [], modeProblems: ["x: +x"], gitDirs: [] },
    });
    expect(computeFigures(modes, entries).correct).toBe(false);
  });
});

describe("network floor", () => {
  it("is the cold run's requests and bytes through the emulated network plus start-up", () => {
    const runs = stageRuns({
      startup: [measured({ wallMs: 400 })],
      cold: [coldRun({ wallMs: 1200, requests: 80, bytesOut: 0 })],
    });
    const f = computeFigures(runs, entries);
    // 80 requests × 30 ms ÷ 8 = 300 ms, plus 400 ms start-up.
    expect(f.floor.totalMs).toBe(700);
    expect(f.floorRatio).toBeCloseTo(1200 / 700);
  });
});

describe("goals", () => {
  it("meets each goal at its bound and misses it beyond", () => {
    const f = computeFigures(stageRuns(), entries);
    expect(goals({ ...f, coldSpeedup: 10, floorRatio: 3, warmOverheadMs: 100, warmRequests: 0 })).toEqual({
      coldSpeedup: { value: 10, goal: 10, met: true },
      floorRatio: { value: 3, goal: 3, met: true },
      warmOverheadMs: { value: 100, goal: 100, met: true },
      warmRequests: { value: 0, goal: 0, met: true },
    });
    const missed = goals({ ...f, coldSpeedup: 9.9, floorRatio: 3.01, warmOverheadMs: 101, warmRequests: 1 });
    expect([
      missed.coldSpeedup.met,
      missed.floorRatio.met,
      missed.warmOverheadMs.met,
      missed.warmRequests.met,
    ]).toEqual([false, false, false, false]);
  });
});
