import { describe, expect, it } from "vitest";
import { PARTS, type Part } from "./breakdown";
import type { NoopRun } from "./measure";
import { cells, partsTable, variantTable } from "./report";
import { VARIANTS } from "./world";

const parts = (staging: number, rest: number) =>
  Object.fromEntries(
    PARTS.map((p) => [p, p === "program: staging" ? staging : p.startsWith("the rest") ? rest : 0]),
  ) as Record<Part, number>;

const run = (variant: (typeof VARIANTS)[number], staging: number, wallMs: number): NoopRun => ({
  command: "preview",
  tree: "small",
  variant,
  wallMs,
  parts: parts(staging, wallMs - staging),
});

describe("cells", () => {
  it("takes medians per command, tree and variant, and staging's share of each run", () => {
    const all = cells([
      run(VARIANTS[0], 100, 10_000),
      run(VARIANTS[0], 300, 12_000),
      run(VARIANTS[0], 2_000, 8_000),
      run(VARIANTS[1], 50, 5_000),
    ]);
    expect(all).toHaveLength(2);
    const before = all[0];
    expect(before?.runs).toBe(3);
    expect(before?.wallMs).toBe(10_000);
    expect(before?.parts["program: staging"]).toBe(300);
    expect(before?.stagingShare).toBeCloseTo(0.025);
  });
});

describe("the tables", () => {
  it("marks a staging share over 10 % as missing the goal, and gives each variant's ratio to before", () => {
    const all = cells([run(VARIANTS[0], 2_000, 10_000), run(VARIANTS[1], 100, 5_000)]);
    const table = partsTable(all, VARIANTS[1]).join("\n");
    expect(table).toContain("| preview, small tree |");
    expect(table).toContain("2.0 % ✓");
    expect(partsTable(all, VARIANTS[0]).join("\n")).toContain("20.0 % ✗");
    const variants = variantTable(all);
    expect(variants[2]).toContain("| 1.00 |");
    expect(variants[3]).toContain("| 0.50 |");
  });
});
