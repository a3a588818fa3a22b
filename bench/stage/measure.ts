/**
 * One measured command of bench:stage: its wall time, its tree's CPU and memory, what the git server saw,
 * and how much CPU everything else on the machine took meanwhile (which makes a run noisy).
 */
import type { ChildProcess } from "node:child_process";
import { gitEnv } from "../../test/support/git-fixtures";
import type { GitHttpServer } from "../../test/support/git-http-server";
import { machineCpu, processTicks, selfTicks } from "../lib/cpu";
import type { RssPeak, RssSampler } from "../lib/rss";
import { sampledRun } from "../lib/sampled-run";
import { WORKLOAD } from "./workload";

export interface Measured {
  wallMs: number;
  /**
   * CPU during the run: the measured tree's (user, sys), the server's (the bench process and the CGIs it
   * reaped), and everything else on the machine (other load, which makes a run noisy), from /proc/stat.
   */
  cpu: { userMs: number; sysMs: number; serverMs: number; otherMs: number; stealMs: number };
  exitCode: number | null;
  requests: number;
  bytesOut: number;
  /** Processes of the measured tree still alive after its root exited (then killed). */
  leaked: boolean;
  /** Requests not answered 200: should be none, any would mean retries or errors. */
  failedRequests: number;
  rss: RssPeak;
  stdout: string;
  stderr: string;
}

export type Measure = (cmd: string, args: readonly string[]) => Promise<Measured>;

export interface MeasureContext {
  server: GitHttpServer;
  sampler: RssSampler;
  clkTck: number;
  children: Set<ChildProcess>;
  /** MOLECULE_IMAGES_CACHE for the runs: where the stager keeps its stat fingerprints. */
  userCache: string;
}

/** A `measure` that runs each command with the server's counters reset and the machine's CPU read around it. */
export function measurer({ server, sampler, clkTck, children, userCache }: MeasureContext): Measure {
  const ticksMs = (ticks: number) => (ticks * 1000) / clkTck;
  // Built from nothing (no ~/.gitconfig, no GIT_* from the caller), for the old script and the CLI alike.
  const env = gitEnv({ MOLECULE_IMAGES_CACHE: userCache });
  return async (cmd, args) => {
    server.resetStats();
    const benchTicks = selfTicks();
    const samplerTicks = processTicks(sampler.pid);
    const machineTicks = machineCpu();
    const run = await sampledRun(sampler, cmd, args, {
      env,
      sampleIntervalMs: WORKLOAD.sampleIntervalMs,
      children,
    });
    const machine = machineCpu();
    const benchMs = ticksMs(selfTicks() - benchTicks);
    const samplerMs = ticksMs(processTicks(sampler.pid) - samplerTicks);
    const { rss } = run;
    const cpuMs = ticksMs(rss.cpuUserTicks + rss.cpuSysTicks);
    return {
      wallMs: run.wallMs,
      exitCode: run.exitCode,
      requests: server.requests.length,
      bytesOut: server.bytesOut,
      failedRequests: server.requests.filter((q) => q.status !== 200).length,
      rss,
      leaked: run.leaked,
      cpu: {
        userMs: ticksMs(rss.cpuUserTicks),
        sysMs: ticksMs(rss.cpuSysTicks),
        // The bench's own CPU plus the children it reaped: the server (event loop and git-http-backend
        // CGIs) and the measured tree. What is not the tree is the server's.
        serverMs: Math.max(0, benchMs - cpuMs),
        otherMs: Math.max(0, ticksMs(machine.busy - machineTicks.busy) - benchMs - samplerMs),
        stealMs: ticksMs(machine.steal - machineTicks.steal),
      },
      stdout: run.stdout,
      stderr: run.stderr,
    };
  };
}
