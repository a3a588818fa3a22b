/**
 * bench:stage's measured phases, in the order the bench runs them. Pairs of phases that are compared with
 * each other run interleaved, so drift in the machine's state (page cache, the disk's recently-deleted
 * inodes, other load) spreads over both sides instead of favouring whichever ran first.
 */
import { join } from "node:path";
import { LIST_DIRS } from "../../lib/manifest/contract";
import { probeCreate } from "../lib/scratch-dir";
import { type CompareResult, compareStaged } from "./compare";
import type { Measure, Measured } from "./measure";
import { type BaselineRun, parseBaseline } from "./old-script";
import type { CliRun, ColdRun, StageCli } from "./stage-cli";
import { log, WORKLOAD, type Workload } from "./workload";

export interface RunCounts {
  baseline: number;
  cold: number;
  warm: number;
  startup: number;
}

export interface PhaseContext {
  measure: Measure;
  cli: StageCli;
  workload: Workload;
  gitBaseUrl: string;
  /** `bash` arguments that run the old script into a destination. */
  oldScriptArgs: (baseUrl: string, dest: string) => string[];
}

/** The old clone script and ours cold, interleaved; returns the last destination of each for comparing. */
export async function baselineAndCold(ctx: PhaseContext, runs: RunCounts) {
  const baseline: BaselineRun[] = [];
  const cold: ColdRun[] = [];
  let baselineDest = "";
  let oursDest = "";
  for (let i = 0; i < Math.max(runs.baseline, runs.cold); i++) {
    if (i < runs.baseline) {
      log(`baseline run ${i + 1}/${runs.baseline} (serial full clones)`);
      const createMsPerFile = probeCreate(ctx.cli.freshDir("probe-baseline"));
      baselineDest = ctx.cli.freshDir("baseline");
      const m = await ctx.measure("bash", ctx.oldScriptArgs(ctx.gitBaseUrl, baselineDest));
      if (m.exitCode !== 0) throw new Error(`old clone script exited ${m.exitCode}:\n${m.stderr}`);
      baseline.push({ ...parseBaseline(m, ctx.workload.entries.length), createMsPerFile });
    }
    if (i < runs.cold) {
      log(`ours cold run ${i + 1}/${runs.cold}`);
      const r = await ctx.cli.cold("cold");
      cold.push(r);
      oursDest = r.dest;
    }
  }
  return { baseline, cold, baselineDest, oursDest };
}

/** Start-up (`--help`) and ours warm on `dest`, interleaved: the warm goal is their difference. */
export async function startupAndWarm(ctx: PhaseContext, runs: RunCounts, dest: string) {
  const startup: Measured[] = [];
  const warm: CliRun[] = [];
  for (let i = 0; i < Math.max(runs.startup, runs.warm); i++) {
    if (i < runs.startup) {
      const s = await ctx.cli.help();
      if (s.exitCode !== 0) throw new Error(`stage CLI --help exited ${s.exitCode}:\n${s.stderr}`);
      startup.push(s);
    }
    if (i < runs.warm) {
      log(`start-up and ours warm, round ${i + 1}`);
      warm.push(await ctx.cli.stage(dest));
    }
  }
  return { startup, warm };
}

/** Same files, same bytes as the old script's tree, modes as in each commit, and no .git anywhere. */
export function correctness(
  ctx: PhaseContext,
  baselineDest: string,
  oursDest: string,
): Promise<CompareResult> {
  log("comparing the old script's tree with ours");
  return compareStaged(
    baselineDest,
    oursDest,
    ctx.workload.entries.map((e) => ({
      path: `${LIST_DIRS[e.list]}/${e.name}`,
      gitDir: join(ctx.workload.reposRoot, `${e.repo}.git`),
      sha: e.sha,
    })),
  );
}

/** Ours cold at each --concurrency of the sweep: peak memory against concurrency. */
export async function concurrencySweep(ctx: PhaseContext): Promise<ColdRun[]> {
  const sweep: ColdRun[] = [];
  for (const c of WORKLOAD.sweep) {
    log(`ours cold, --concurrency ${c}`);
    sweep.push(await ctx.cli.cold(`c${c}`, { concurrency: c }));
  }
  return sweep;
}

export interface EntryTiming {
  entry: string;
  ms: number;
}

/** Ours cold with progress lines: where a cold run's time goes, from the CLI's own per-entry timings. */
export async function profileRun(ctx: PhaseContext): Promise<{ profile: ColdRun; perEntry: EntryTiming[] }> {
  log("ours cold with progress lines (per-entry timings)");
  const profile = await ctx.cli.cold("profile", { quiet: false });
  return { profile, perEntry: parseEntryTimings(profile.stderr) };
}

/** The CLI's "stage: fetched <entry> (<n> ms)" progress lines. */
export function parseEntryTimings(stderr: string): EntryTiming[] {
  return [...stderr.matchAll(/^stage: fetched (\S+) \((\d+) ms\)$/gm)].map((m) => ({
    entry: m[1] ?? "",
    ms: Number(m[2]),
  }));
}
