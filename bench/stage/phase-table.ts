/** bench:stage's table: one row a phase, medians over its quiet runs, peaks over all of them. */
import { DEFAULT_CONCURRENCY } from "../../lib/templates/stager";
import { fmtBytes, fmtMs } from "../lib/format";
import { median } from "../lib/stats";
import { alignedTable } from "../lib/table";
import { baselineWall, isQuiet, pickQuiet, wall } from "./figures";
import type { Measured } from "./measure";
import type { StageRuns } from "./result";

const HEADER = [
  "phase",
  "runs",
  "wall (median)",
  "min–max",
  "requests",
  "bytes out",
  "objects",
  "CPU (tree)",
  "peak RSS",
  "of it git",
  "fetches",
];

const span = (xs: number[]) => `${fmtMs(Math.min(...xs))}–${fmtMs(Math.max(...xs))}`;

export function phaseRow<T extends Measured>(
  phase: string,
  all: T[],
  ms: (r: T) => number,
  objects: string,
): string[] {
  const r = pickQuiet(all);
  const q = all.filter(isQuiet).length;
  return [
    phase,
    q === all.length ? String(all.length) : `${all.length} (${q} quiet)`,
    fmtMs(median(r.map(ms))),
    r.length > 1 ? span(r.map(ms)) : "",
    String(median(r.map((x) => x.requests))),
    fmtBytes(median(r.map((x) => x.bytesOut))),
    objects,
    fmtMs(median(r.map((x) => x.cpu.userMs + x.cpu.sysMs))),
    // Peaks over every run, quiet or not: other load does not change how much memory the tree takes.
    fmtBytes(Math.max(...all.map((x) => x.rss.peakBytes))),
    fmtBytes(Math.max(...all.map((x) => x.rss.peakGitBytes))),
    String(Math.max(...all.map((x) => x.rss.peakRemoteHelpers))),
  ];
}

/** The table's rows, header first; objects marked * are counted on the server (`objectsHead`). */
export function phaseRows(runs: StageRuns, objectsHead: number): string[][] {
  return [
    HEADER,
    phaseRow("start-up (--help)", runs.startup, wall, "–"),
    phaseRow("baseline: old script", runs.baseline, baselineWall, String(runs.baseline[0]?.objects ?? 0)),
    phaseRow(`ours cold (c=${DEFAULT_CONCURRENCY})`, runs.cold, wall, `${objectsHead}*`),
    phaseRow("ours warm", runs.warm, wall, "0"),
    ...runs.sweep.map((s) => phaseRow(`ours cold c=${s.concurrency}`, [s], wall, `${objectsHead}*`)),
  ];
}

export function phaseTable(runs: StageRuns, objectsHead: number): string[] {
  return alignedTable(phaseRows(runs, objectsHead), { rule: true });
}
