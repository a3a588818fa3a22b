import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { phaseMarks } from "./phase-marks";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A clock that moves only when told. */
function clock(start = 1000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("phaseMarks", () => {
  it("records sync and async phases in order, and appends one JSON line per flush", async () => {
    const dir = mkdtempSync(join(tmpdir(), "marks-"));
    dirs.push(dir);
    const file = join(dir, "phases.jsonl");
    const c = clock();
    const marks = phaseMarks(file, c.now, 400.6);
    const value = marks.time("config", () => {
      c.advance(5);
      return "x";
    });
    expect(value).toBe("x");
    await marks.time("staging", async () => {
      c.advance(30);
    });
    marks.flush();
    marks.flush();
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0] ?? "")).toEqual({
      processStart: 401,
      programStart: 1000,
      phases: { config: 5, staging: 30 },
    });
    expect(Object.keys(marks.record.phases)).toEqual(["config", "staging"]);
  });

  it("records a phase that throws or rejects, and the error still propagates", async () => {
    const c = clock();
    const marks = phaseMarks(undefined, c.now);
    expect(() =>
      marks.time("gate", () => {
        c.advance(7);
        throw new Error("bad");
      }),
    ).toThrow("bad");
    await expect(
      marks.time("preflight", async () => {
        c.advance(3);
        throw new Error("down");
      }),
    ).rejects.toThrow("down");
    expect(marks.record.phases).toEqual({ gate: 7, preflight: 3 });
  });

  it("writes nothing when no file is named", () => {
    const marks = phaseMarks(undefined);
    marks.time("config", () => 1);
    expect(() => marks.flush()).not.toThrow();
  });
});
