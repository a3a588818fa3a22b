import { describe, expect, it } from "vitest";
import { alignedTable, markdownTable } from "./table";

describe("alignedTable", () => {
  const rows = [
    ["phase", "runs", "wall"],
    ["start-up", "9", "1.04 s"],
    ["baseline: old script", "2 (0 quiet)", "21.22 s"],
  ];

  it("left-aligns the first column, right-aligns the rest, two spaces apart", () => {
    expect(alignedTable(rows, { rule: false })).toEqual([
      "phase                        runs     wall",
      "start-up                        9   1.04 s",
      "baseline: old script  2 (0 quiet)  21.22 s",
    ]);
  });

  it("puts a rule of dashes as wide as each column under the header", () => {
    const lines = alignedTable(rows, { rule: true });
    expect(lines[1]).toBe(`${"-".repeat(20)}  ${"-".repeat(11)}  ${"-".repeat(7)}`);
    expect(lines).toHaveLength(4);
  });

  it("prints a short row's own cells only, its first still widening the column", () => {
    expect(alignedTable([["a", "bb"], ["ccc"]], { rule: false })).toEqual(["a    bb", "ccc"]);
  });
});

describe("markdownTable", () => {
  it("writes a header, a rule with one cell per column, and the rows", () => {
    expect(markdownTable(["run", "wall"], [["A", "1.0 s"]])).toEqual([
      "| run | wall |",
      "|---|---|",
      "| A | 1.0 s |",
    ]);
  });
  it("writes an empty cell as a single space", () => {
    expect(markdownTable(["a", "b", "c"], [["total", "", "3 s"]])[2]).toBe("| total | | 3 s |");
  });
});
