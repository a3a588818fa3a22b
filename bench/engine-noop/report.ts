/**
 * bench:engine-noop's tables: each part's median ms and its share of the median run, per command and tree;
 * then each program variant's wall time and startup against the "before" variant of the same run.
 */
import { fmtMs } from "../lib/format";
import { median } from "../lib/stats";
import { markdownTable } from "../lib/table";
import { PARTS, type Part } from "./breakdown";
import { COMMANDS, type Command, type NoopRun } from "./measure";
import { TREES, type Tree, VARIANTS, type Variant } from "./world";

export const STAGING_GOAL = 0.1;
const STARTUP: Part[] = [
  "Node start (language host to process)",
  "program load (SDK, modules, TypeScript compile)",
];

export interface Cell {
  command: Command;
  tree: Tree;
  variant: Variant;
  runs: number;
  wallMs: number;
  parts: Record<Part, number>;
  stagingShare: number;
}

/** Medians per command, tree and variant; a part's median is taken on its own, so parts need not add up. */
export function cells(runs: NoopRun[]): Cell[] {
  return COMMANDS.flatMap((command) =>
    TREES.flatMap((tree) =>
      VARIANTS.flatMap((variant) => {
        const rs = runs.filter((r) => r.command === command && r.tree === tree && r.variant === variant);
        if (rs.length === 0) return [];
        const parts = Object.fromEntries(PARTS.map((p) => [p, median(rs.map((r) => r.parts[p]))])) as Record<
          Part,
          number
        >;
        const wallMs = median(rs.map((r) => r.wallMs));
        const stagingShare = median(rs.map((r) => r.parts["program: staging"] / r.wallMs));
        return [{ command, tree, variant, runs: rs.length, wallMs, parts, stagingShare }];
      }),
    ),
  );
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** One column a command and tree, for one variant: each part as "ms (share)". */
export function partsTable(all: Cell[], variant: Variant): string[] {
  const cols = all.filter((c) => c.variant === variant);
  const header = ["part", ...cols.map((c) => `${c.command}, ${c.tree} tree`)];
  const rows = PARTS.map((p) => [
    p,
    ...cols.map((c) => `${fmtMs(c.parts[p])} (${pct(c.parts[p] / c.wallMs)})`),
  ]);
  rows.push(["**wall time (median)**", ...cols.map((c) => `**${fmtMs(c.wallMs)}**`)]);
  rows.push([
    `staging's share (goal ≤ ${pct(STAGING_GOAL)})`,
    ...cols.map((c) => `${pct(c.stagingShare)} ${c.stagingShare <= STAGING_GOAL ? "✓" : "✗"}`),
  ]);
  return markdownTable(header, rows);
}

/** Each variant's wall time and startup (Node start + program load), and the ratio to "before". */
export function variantTable(all: Cell[]): string[] {
  const startup = (c: Cell) => STARTUP.reduce((s, p) => s + c.parts[p], 0);
  const rows = all.map((c) => {
    const before = all.find((b) => b.command === c.command && b.tree === c.tree && b.variant === VARIANTS[0]);
    const ratio = before ? (c.wallMs / before.wallMs).toFixed(2) : "";
    return [`${c.command}, ${c.tree}`, c.variant, String(c.runs), fmtMs(c.wallMs), ratio, fmtMs(startup(c))];
  });
  return markdownTable(["run", "program", "runs", "wall (median)", "vs before", "startup (median)"], rows);
}
