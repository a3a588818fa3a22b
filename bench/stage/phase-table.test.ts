import { describe, expect, it } from "vitest";
import { MiB } from "../lib/format";
import { wall } from "./figures";
import { phaseRow, phaseRows } from "./phase-table";
import { measured, stageRuns } from "./test-runs";

describe("phaseRow", () => {
  it("counts quiet runs, and takes the median and span over them", () => {
    const runs = [
      measured({ wallMs: 1000, requests: 10 }),
      measured({ wallMs: 5000, otherMs: 4000, requests: 99 }),
      measured({ wallMs: 1200, requests: 12 }),
    ];
    const [phase, count, median, span, requests] = phaseRow("ours cold", runs, wall, "7*");
    expect([phase, count, median, span, requests]).toEqual([
      "ours cold",
      "3 (2 quiet)",
      "1.10 s",
      "1.00 s–1.20 s",
      "11",
    ]);
  });

  it("takes memory peaks over every run, quiet or not", () => {
    const base = measured();
    const busy = measured({ otherMs: 900, rss: { ...base.rss, peakBytes: 300 * MiB, peakRemoteHelpers: 8 } });
    const row = phaseRow("x", [base, busy], wall, "0");
    expect(row[8]).toBe("300.0 MiB");
    expect(row[10]).toBe("8");
  });

  it("leaves the span empty for a single run and says only the count when all were quiet", () => {
    const row = phaseRow("x", [measured()], wall, "0");
    expect(row[1]).toBe("1");
    expect(row[3]).toBe("");
  });
});

describe("phaseRows", () => {
  it("has the header, the four phases and one row per sweep run, objects marked as counted on the server", () => {
    const rows = phaseRows(stageRuns(), 3317);
    expect(rows.map((r) => r[0])).toEqual([
      "phase",
      "start-up (--help)",
      "baseline: old script",
      "ours cold (c=8)",
      "ours warm",
      "ours cold c=1",
    ]);
    expect(rows.every((r) => r.length === 11)).toBe(true);
    expect(rows.map((r) => r[6])).toEqual(["objects", "–", "100", "3317*", "0", "3317*"]);
  });
});
