/** What bench:stage's phases produce and what its report is made from. */
import type { MachineFacts } from "../lib/machine";
import type { CompareResult } from "./compare";
import type { Figures } from "./figures";
import type { Measured } from "./measure";
import type { BaselineRun } from "./old-script";
import type { EntryTiming } from "./phases";
import type { CliRun, ColdRun } from "./stage-cli";
import type { Workload } from "./workload";

export interface StageRuns {
  startup: Measured[];
  baseline: BaselineRun[];
  cold: ColdRun[];
  warm: CliRun[];
  sweep: ColdRun[];
  profile: ColdRun;
  /** The profile run's own per-entry timings. */
  perEntry: EntryTiming[];
  correctness: CompareResult;
}

export interface StageResult {
  workload: Workload;
  runs: StageRuns;
  figures: Figures;
  machine: MachineFacts;
  clkTck: number;
  loadBefore: number[];
  loadAfter: number[];
}
