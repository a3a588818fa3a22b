/** Runs of the stager's CLI, the pipeline bench:stage measures, against the workload's git server. */
import { join } from "node:path";
import { DEFAULT_CONCURRENCY } from "../../lib/templates/stager";
import { STAGE_CLI } from "../lib/paths";
import { probeCreate } from "../lib/scratch-dir";
import type { Measure, Measured } from "./measure";

export interface CliRun extends Measured {
  concurrency: number;
  actions: Record<string, number>;
  digest: string | undefined;
}

export interface ColdRun extends CliRun {
  createMsPerFile: number;
  dest: string;
}

export interface CliOptions {
  concurrency?: number;
  /** Default true; false keeps the progress lines, which carry per-entry timings. */
  quiet?: boolean;
}

/** How many entries the CLI's JSON result reports for each action ("fetched", "unchanged", ...). */
export function countActions(entries: Array<{ action: string }>): Record<string, number> {
  const actions: Record<string, number> = {};
  for (const e of entries) actions[e.action] = (actions[e.action] ?? 0) + 1;
  return actions;
}

export class StageCli {
  private runNo = 0;

  constructor(
    private readonly measure: Measure,
    private readonly tmp: string,
    private readonly manifestFile: string,
    private readonly gitBaseUrl: string,
  ) {}

  /** A new directory for one run. Nothing is deleted until the bench ends: deletions would skew later runs (see probeCreate in bench/lib/scratch-dir.ts). */
  freshDir(label: string): string {
    return join(this.tmp, "runs", `${String(++this.runNo).padStart(2, "0")}-${label}`);
  }

  /** `stage --help`: the CLI's start-up alone, which the warm goal is measured against. */
  help(): Promise<Measured> {
    return this.measure(STAGE_CLI[0], [...STAGE_CLI.slice(1), "--help"]);
  }

  async stage(dest: string, opts: CliOptions = {}): Promise<CliRun> {
    const args = [
      ...STAGE_CLI.slice(1),
      "--manifest",
      this.manifestFile,
      "--dest",
      dest,
      "--git-base-url",
      this.gitBaseUrl,
    ];
    if (opts.concurrency !== undefined) args.push("--concurrency", String(opts.concurrency));
    if (opts.quiet ?? true) args.push("--quiet");
    const m = await this.measure(STAGE_CLI[0], args);
    if (m.exitCode !== 0) throw new Error(`stage CLI exited ${m.exitCode}:\n${m.stderr}`);
    const result = JSON.parse(m.stdout) as { digest: string; entries: Array<{ action: string }> };
    const actions = countActions(result.entries);
    return { ...m, concurrency: opts.concurrency ?? DEFAULT_CONCURRENCY, actions, digest: result.digest };
  }

  /** A cold run: probes the disk first, so a slow run can be told apart from a slow disk at that moment. */
  async cold(label: string, opts: CliOptions = {}): Promise<ColdRun> {
    const createMsPerFile = probeCreate(this.freshDir(`probe-${label}`));
    const dest = this.freshDir(label);
    return { ...(await this.stage(dest, opts)), createMsPerFile, dest };
  }
}
