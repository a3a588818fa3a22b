import { describe, expect, it } from "vitest";
import { breakdown, PARTS, totalOf } from "./breakdown";

const log = {
  firstLog: 1_100,
  runStart: 1_500,
  runEnd: 9_000,
  pluginStart: { "pulumi-nodejs": 2_000, "docker-build": 300 },
  imageCheck: { a: 5, b: 7 },
  imageDiff: { a: 40, b: 20 },
};
const marks = {
  processStart: 2_000,
  programStart: 5_000,
  phases: { config: 100, staging: 50, gate: 30, preflight: 20 },
};

describe("breakdown", () => {
  it("splits the wall time into consecutive parts that add up to it", () => {
    const parts = breakdown({ spawnedAt: 1_000, exitedAt: 11_000 }, log, marks);
    expect(Object.keys(parts)).toEqual([...PARTS]);
    expect(parts["CLI start (launcher, backend, plugin discovery)"]).toBe(500);
    expect(parts["Node start (language host to process)"]).toBe(500);
    expect(parts["program load (SDK, modules, TypeScript compile)"]).toBe(3_000);
    expect(parts["program: staging"]).toBe(50);
    expect(parts["plugin start (dynamic provider, docker-build)"]).toBe(2_300);
    expect(parts["image checks (Check)"]).toBe(12);
    expect(parts["context hashing (image Diff)"]).toBe(60);
    expect(parts["the rest (engine steps, state, exit)"]).toBe(10_000 - 500 - 500 - 3_000 - 200 - 2_300 - 72);
    expect(totalOf(parts)).toBe(10_000);
  });

  it("counts a phase the program did not run (no builder) as 0", () => {
    const parts = breakdown({ spawnedAt: 1_000, exitedAt: 11_000 }, log, {
      ...marks,
      phases: { config: 100, staging: 50, gate: 30 },
    });
    expect(parts["program: builder preflight"]).toBe(0);
    expect(totalOf(parts)).toBe(10_000);
  });
});
