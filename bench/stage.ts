/**
 * npm run bench:stage [-- --baseline-runs N --cold-runs N --warm-runs N --startup-runs N
 *                         --names <manifest whose names to use> --tmp <dir> --keep]
 *
 * The stager against what the old pipeline did, on the real manifest's shape (31 entries, three of them
 * with long histories carrying large deleted files), served over loopback HTTP with emulated latency
 * and a bandwidth cap (bench/stage/workload.ts).
 *
 * Prints a table and writes every raw number to bench/out/stage.json. Exits non-zero only when the bench
 * itself breaks (or the two pipelines staged different trees, which voids the comparison); a missed goal
 * is printed as MISSED.
 *
 * Noise: on a 2-core machine, anything else running shows up in the numbers, so every run records the
 * CPU other processes used meanwhile, medians use quiet runs, and the table says MACHINE BUSY when
 * other load was significant.
 *
 * Disk: repositories and staged trees live in a tmpfs (/dev/shm) by default, not in /tmp, because of a
 * quirk of this VM's root filesystem (bench/lib/scratch-dir.ts). `--tmp /tmp` measures on disk anyway.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startGitHttpServer } from "../test/support/git-http-server";
import { intOption } from "./lib/args";
import { clockTicksPerSecond } from "./lib/cpu";
import { machineFacts } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { RssSampler } from "./lib/rss";
import { runBench } from "./lib/run";
import { defaultTmpParent } from "./lib/scratch-dir";
import { cleanUpOnSignal } from "./lib/signals";
import { computeFigures } from "./stage/figures";
import { measurer } from "./stage/measure";
import { writeOldScript } from "./stage/old-script";
import {
  baselineAndCold,
  concurrencySweep,
  correctness,
  type PhaseContext,
  profileRun,
  type RunCounts,
  startupAndWarm,
} from "./stage/phases";
import { stageReport } from "./stage/report";
import { Resources } from "./stage/resources";
import type { StageRuns } from "./stage/result";
import { StageCli } from "./stage/stage-cli";
import { summaryText } from "./stage/summary";
import { DEFAULT_NAMES, log, setUpWorkload, WORKLOAD, type Workload } from "./stage/workload";

interface Options {
  runs: RunCounts;
  names: string;
  tmp: string | undefined;
  keep: boolean;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      "baseline-runs": { type: "string", default: "2" },
      "cold-runs": { type: "string", default: "3" },
      "warm-runs": { type: "string", default: "9" },
      "startup-runs": { type: "string", default: "9" },
      names: { type: "string", default: DEFAULT_NAMES },
      tmp: { type: "string" },
      keep: { type: "boolean", default: false },
    },
  });
  const runs = (phase: keyof RunCounts) => intOption(`${phase}-runs`, values[`${phase}-runs`], 1);
  return {
    runs: { baseline: runs("baseline"), cold: runs("cold"), warm: runs("warm"), startup: runs("startup") },
    names: values.names ?? DEFAULT_NAMES,
    tmp: values.tmp,
    keep: values.keep ?? false,
  };
}

async function main(): Promise<number> {
  const opts = parseOptions();
  const res = new Resources();
  res.keep = opts.keep;
  cleanUpOnSignal(() => res.cleanup());
  try {
    const tmp = await mkdtemp(join(opts.tmp ?? (await defaultTmpParent()), "bench-stage-"));
    res.tmp = tmp;
    return await bench(res, tmp, opts);
  } finally {
    await res.cleanup();
  }
}

/** The git server with the emulated network, the memory sampler, and the commands measured through them. */
async function startMeasuring(res: Resources, tmp: string, workload: Workload) {
  const server = await startGitHttpServer({
    root: workload.reposRoot,
    latencyMs: WORKLOAD.latencyMs,
    bandwidthBytesPerSec: WORKLOAD.bandwidthBytesPerSec,
  });
  res.server = server;
  const sampler = RssSampler.start();
  res.sampler = sampler;
  await sampler.ready();
  const clkTck = await clockTicksPerSecond();
  // The stager keeps its trees' stat fingerprints in the user's cache: the bench gives it one of its own.
  const userCache = join(tmp, "user-cache");
  const measure = measurer({ server, sampler, clkTck, children: res.children, userCache });
  const ctx: PhaseContext = {
    measure,
    cli: new StageCli(measure, tmp, workload.manifestFile, server.url),
    workload,
    gitBaseUrl: server.url,
    oldScriptArgs: await writeOldScript(tmp, workload.entries),
  };
  return { ctx, clkTck };
}

async function bench(res: Resources, tmp: string, opts: Options): Promise<number> {
  const loadBefore = os.loadavg();
  const workload = await setUpWorkload(tmp, opts.names);
  const { ctx, clkTck } = await startMeasuring(res, tmp, workload);

  // One discarded run first: tsx compiles on first use and caches the result in the temp dir.
  log("warming tsx's compile cache");
  await ctx.cli.help();

  const { baseline, cold, baselineDest, oursDest } = await baselineAndCold(ctx, opts.runs);
  const { startup, warm } = await startupAndWarm(ctx, opts.runs, oursDest);
  // After the warm runs, so those are covered too.
  const compared = await correctness(ctx, baselineDest, oursDest);
  const sweep = await concurrencySweep(ctx);
  const { profile, perEntry } = await profileRun(ctx);
  const loadAfter = os.loadavg();

  const runs: StageRuns = { startup, baseline, cold, warm, sweep, profile, perEntry, correctness: compared };
  const figures = computeFigures(runs, workload.entries);
  const machine = await machineFacts(tmp);
  const result = { workload, runs, figures, machine, clkTck, loadBefore, loadAfter };
  process.stdout.write(summaryText(result));
  await writeOutJson("stage.json", stageReport(result));
  log(`wrote ${join("bench", "out", "stage.json")}`);
  // A difference voids the comparison: that is the bench failing, not a goal being missed.
  return figures.correct ? 0 : 1;
}

runBench(main);
