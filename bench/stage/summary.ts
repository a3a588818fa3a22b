/** bench:stage's printed report: what was measured on what, the table, the goals, and what to distrust. */
import { DEFAULT_CONCURRENCY } from "../../lib/templates/stager";
import { fmtBytes, fmtMs } from "../lib/format";
import { median } from "../lib/stats";
import { goals } from "./figures";
import type { Measured } from "./measure";
import { phaseTable } from "./phase-table";
import type { StageResult, StageRuns } from "./result";
import { BUSY_CORES, describeNetwork, describeWorkload, WORKLOAD } from "./workload";

const verdict = (ok: boolean) => (ok ? "met" : "MISSED");

/** Every run of every phase. */
export const allRuns = (r: StageRuns): Measured[] => [
  ...r.startup,
  ...r.baseline,
  ...r.cold,
  ...r.warm,
  ...r.sweep,
  r.profile,
];

function setting({ workload, machine, loadBefore, loadAfter }: StageResult): string[] {
  return [
    describeWorkload(workload.entries),
    describeNetwork(),
    `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${fmtBytes(machine.totalMemBytes)}, node ${machine.node}, ${machine.git}, ${machine.os}; temp dir on ${machine.tmpFs}; load avg ${loadBefore[0]?.toFixed(2)} before, ${loadAfter[0]?.toFixed(2)} after.`,
    `Stager default --concurrency ${DEFAULT_CONCURRENCY}. CPU and RSS: summed over the measured process tree, sampled every ${WORKLOAD.sampleIntervalMs} ms.`,
  ];
}

function tableNotes({ runs, figures, machine }: StageResult): string[] {
  const { cold, baseline } = runs;
  const cores = (r: Measured) => (r.cpu.userMs + r.cpu.sysMs + r.cpu.serverMs) / r.wallMs;
  const probes = [...baseline, ...cold, ...runs.sweep, runs.profile].map((r) => r.createMsPerFile);
  return [
    `objects: baseline = counted in each clone before .git is deleted; * = computed on the server (head commit + its tree); full history is ${figures.objectsAll}.`,
    "fetches = most git-remote-http processes alive at once (git's transfers; the stager's own fetch runs none). Baseline wall excludes the bench's object counting.",
    `server CPU (git-http-backend on these same cores; a real git host's own) per cold run ${fmtMs(median(cold.map((c) => c.cpu.serverMs)))}, per baseline run ${fmtMs(median(baseline.map((b) => b.cpu.serverMs)))}; cores busy (tree + server): cold ${median(cold.map(cores)).toFixed(2)}, baseline ${median(baseline.map(cores)).toFixed(2)} of ${machine.cpus}.`,
    `disk: creating an empty file took ${median(probes).toFixed(3)} ms (median; ${Math.min(...probes).toFixed(3)}–${Math.max(...probes).toFixed(3)}) just before each file-writing run.`,
  ];
}

function goalLines({ runs, figures: f }: StageResult): string[] {
  const g = goals(f);
  const c = runs.correctness;
  return [
    `cold speedup vs baseline   ${f.coldSpeedup.toFixed(1)}x  (${fmtMs(f.baselineMs)} / ${fmtMs(f.coldMs)})   goal >= ${g.coldSpeedup.goal}x   ${verdict(g.coldSpeedup.met)}`,
    `network floor              ${fmtMs(f.floor.totalMs)}  (${fmtMs(f.floor.latencyPartMs)} requests × latency ÷ concurrency + ${fmtMs(f.floor.bandwidthPartMs)} bytes ÷ bandwidth + ${fmtMs(f.floor.startupMs)} start-up)`,
    `cold ÷ network floor       ${f.floorRatio.toFixed(2)}x  (${fmtMs(f.coldMs)} / ${fmtMs(f.floor.totalMs)})   goal <= ${g.floorRatio.goal}x   ${verdict(g.floorRatio.met)}`,
    `warm − start-up            ${Math.round(f.warmOverheadMs)} ms  (${fmtMs(f.warmMs)} − ${fmtMs(f.startupMs)})   goal <= ${g.warmOverheadMs.goal} ms   ${verdict(g.warmOverheadMs.met)}`,
    `warm requests              ${f.warmRequests}   goal ${g.warmRequests.goal}   ${verdict(g.warmRequests.met)}`,
    `correctness                ${f.correct ? "same" : "DIFFERENT"}: ${c.entries} entries, ${c.files} files byte-identical to the old script's; ${c.modeProblems.length} mode problems; ${c.gitDirs.length} .git paths; ${f.digests.size} distinct digest(s) over ${runs.cold.length + runs.sweep.length + 1} cold runs`,
    ...[...c.contentProblems, ...c.modeProblems, ...c.gitDirs].slice(0, 20).map((p) => `  ${p}`),
  ];
}

/** Reasons to distrust the numbers: warm runs that fetched, a busy machine, leaked processes, failed requests. */
export function warnings(runs: StageRuns, entryCount: number): string[] {
  const out: string[] = [];
  const warmFetched = runs.warm.filter((w) => (w.actions.unchanged ?? 0) !== entryCount).length;
  if (warmFetched > 0) out.push(`  ${warmFetched} warm run(s) did not report every entry unchanged`);
  const all = allRuns(runs);
  const busy = all.filter((r) => r.cpu.otherMs / r.wallMs > BUSY_CORES);
  if (busy.length > 0) {
    const worst = Math.max(...busy.map((r) => r.cpu.otherMs / r.wallMs));
    out.push(
      `MACHINE BUSY: in ${busy.length} of ${all.length} runs other processes used > ${BUSY_CORES} cores on average (worst ${worst.toFixed(2)}); medians use a phase's quiet runs where it has any, but a quiet machine is better.`,
    );
  }
  const leaked = all.filter((r) => r.leaked).length;
  if (leaked > 0)
    out.push(`LEAK: ${leaked} run(s) left processes behind after exiting (killed by the bench)`);
  const failed = all.reduce((s, r) => s + r.failedRequests, 0);
  if (failed > 0) out.push(`note: ${failed} HTTP requests were not answered 200 (retries?)`);
  return out;
}

function perEntryLines({ runs }: StageResult): string[] {
  const slowest = [...runs.perEntry].sort((a, b) => b.ms - a.ms).slice(0, 4);
  const b0 = runs.baseline[0]?.perEntry ?? [];
  const bSlow = [...b0].sort((a, b) => b.ms - a.ms).slice(0, 3);
  return [
    `per entry, ours (c=${DEFAULT_CONCURRENCY}, progress lines): median ${fmtMs(median(runs.perEntry.map((p) => p.ms)))}, slowest ${slowest.map((p) => `${p.entry} ${fmtMs(p.ms)}`).join(", ")}`,
    `per entry, baseline: median ${fmtMs(median(b0.map((p) => p.ms)))}, slowest ${bSlow.map((p) => `${p.entry} ${fmtMs(p.ms)}`).join(", ")}`,
  ];
}

/** The whole printed report, ending in a newline. */
export function summaryText(result: StageResult): string {
  const lines = [
    "",
    ...setting(result),
    "",
    ...phaseTable(result.runs, result.figures.objectsHead),
    "",
    ...tableNotes(result),
    "",
    ...goalLines(result),
    ...warnings(result.runs, result.workload.entries.length),
    "",
    ...perEntryLines(result),
  ];
  return `${lines.join("\n")}\n`;
}
