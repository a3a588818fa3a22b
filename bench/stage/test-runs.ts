/** Runs as the phases would produce them, for the stage bench's unit tests: only what a test sets differs. */
import type { CompareResult } from "./compare";
import type { Measured } from "./measure";
import type { BaselineRun } from "./old-script";
import type { StageRuns } from "./result";
import type { CliRun, ColdRun } from "./stage-cli";

export function measured(over: Partial<Measured> & { otherMs?: number } = {}): Measured {
  const { otherMs = 0, ...rest } = over;
  return {
    wallMs: 1000,
    cpu: { userMs: 100, sysMs: 50, serverMs: 20, otherMs, stealMs: 0 },
    exitCode: 0,
    requests: 0,
    bytesOut: 0,
    leaked: false,
    failedRequests: 0,
    rss: {
      samples: 10,
      intervalMs: 20,
      peakBytes: 1024,
      atPeak: { nodeBytes: 1024, gitBytes: 0, otherBytes: 0, processes: 1 },
      peakGitBytes: 0,
      peakNodeBytes: 1024,
      peakNodeHwmBytes: 1024,
      peakGitHwmBytes: 0,
      peakProcesses: 1,
      peakRemoteHelpers: 0,
      cpuUserTicks: 10,
      cpuSysTicks: 5,
    },
    stdout: "",
    stderr: "",
    ...rest,
  };
}

export function cliRun(over: Partial<CliRun> & { otherMs?: number } = {}): CliRun {
  const { concurrency = 8, actions = { unchanged: 2 }, digest = "sha256:one", ...rest } = over;
  return { ...measured(rest), concurrency, actions, digest };
}

export function coldRun(over: Partial<ColdRun> & { otherMs?: number } = {}): ColdRun {
  const { createMsPerFile = 0.01, dest = "/d", ...rest } = over;
  return { ...cliRun(rest), createMsPerFile, dest };
}

export function baselineRun(over: Partial<BaselineRun> & { otherMs?: number } = {}): BaselineRun {
  const { createMsPerFile = 0.01, wallExclCountingMs, objects = 100, perEntry = [], ...rest } = over;
  const m = measured(rest);
  return { ...m, createMsPerFile, wallExclCountingMs: wallExclCountingMs ?? m.wallMs, objects, perEntry };
}

export const sameTrees: CompareResult = {
  entries: 2,
  files: 10,
  contentProblems: [],
  modeProblems: [],
  gitDirs: [],
};

export function stageRuns(over: Partial<StageRuns> = {}): StageRuns {
  return {
    startup: [measured({ wallMs: 500 })],
    baseline: [baselineRun({ wallMs: 20_000 })],
    cold: [coldRun({ wallMs: 2000 })],
    warm: [cliRun({ wallMs: 550 })],
    sweep: [coldRun({ wallMs: 4000, concurrency: 1 })],
    profile: coldRun({ wallMs: 2100 }),
    perEntry: [],
    correctness: sameTrees,
    ...over,
  };
}
