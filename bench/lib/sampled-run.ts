/**
 * Runs one command as the leader of its own process group, its tree's memory sampled while it runs. The
 * group is what makes the measurement whole: every git the command starts is in it, so the sampler sees
 * them and nothing is left running into the next measurement.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { REPO_ROOT } from "./paths";
import type { RssPeak, RssSampler } from "./rss";

export interface SampledRun {
  wallMs: number;
  exitCode: number | null;
  rss: RssPeak;
  /** Processes of the group still alive after its leader exited (then killed). */
  leaked: boolean;
  stdout: string;
  stderr: string;
}

export interface SampledRunOptions {
  env: NodeJS.ProcessEnv;
  sampleIntervalMs: number;
  /** Holds the child while it runs, so whoever cleans up after a failure or a signal can kill its group. */
  children?: Set<ChildProcess>;
}

export async function sampledRun(
  sampler: RssSampler,
  cmd: string,
  args: readonly string[],
  opts: SampledRunOptions,
): Promise<SampledRun> {
  const started = performance.now();
  const child = spawn(cmd, args, {
    cwd: REPO_ROOT,
    env: opts.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  opts.children?.add(child);
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on("data", (c: Buffer) => out.push(c));
  child.stderr?.on("data", (c: Buffer) => err.push(c));
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  await sampler.watch(child.pid, opts.sampleIntervalMs);
  const exitCode = await exited;
  const wallMs = performance.now() - started;
  const rss = await sampler.stop();
  await closed;
  const leaked = killGroup(child.pid);
  opts.children?.delete(child);
  return {
    wallMs,
    exitCode,
    rss,
    leaked,
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
  };
}

/**
 * Kills what is left of a group whose leader exited, and says whether anything was (e.g. a git the command
 * did not wait for): worth reporting, and it must not run on into the next measurement.
 */
function killGroup(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false; // no process left in the group: the normal case
  }
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // gone in between
  }
  return true;
}
