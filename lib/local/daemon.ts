/**
 * Background services the local stack starts (the registry, buildkitd), each recorded by a pid file next to
 * its data. A pid counts as ours only while /proc shows it running our binary: a reused pid, or a zombie that
 * an init which never reaps left behind, is not a live service and is never signalled.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { processState } from "../os/proc";

function runs(pid: number, binary: string): boolean {
  if (processState(pid) !== "running") return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] === binary;
  } catch {
    return false;
  }
}

export interface Daemon {
  name: string;
  binary: string;
  args: string[];
  pidFile: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/** The pid of the daemon this project started, if it is still running. */
export function runningPid(d: Daemon): number | undefined {
  if (!existsSync(d.pidFile)) return undefined;
  const pid = Number(readFileSync(d.pidFile, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 && runs(pid, d.binary) ? pid : undefined;
}

export function startDaemon(d: Daemon): number {
  mkdirSync(dirname(d.pidFile), { recursive: true });
  const log = openSync(d.logFile, "a");
  const child = spawn(d.binary, d.args, {
    detached: true,
    stdio: ["ignore", log, log],
    env: d.env ?? process.env,
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`${d.name}: could not start ${d.binary}; see ${d.logFile}`);
  writeFileSync(d.pidFile, `${child.pid}\n`);
  return child.pid;
}

/** Polls `ready` until it holds, the daemon dies, or the deadline passes (then it is stopped again). */
export async function waitReady(d: Daemon, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (await ready()) return;
    if (runningPid(d) === undefined) {
      throw new Error(`${d.name} exited while starting; see ${d.logFile}`);
    }
    await sleep(100);
  }
  await stopDaemon(d);
  throw new Error(`${d.name} did not become ready within ${timeoutMs / 1000}s; see ${d.logFile}`);
}

/** SIGTERM, then SIGKILL after `graceMs`: true if a daemon of ours was running. */
export async function stopDaemon(d: Daemon, graceMs = 10_000): Promise<boolean> {
  const pid = runningPid(d);
  rmSync(d.pidFile, { force: true });
  if (pid === undefined) return false;
  process.kill(pid, "SIGTERM");
  for (const deadline = Date.now() + graceMs; Date.now() < deadline; ) {
    if (processState(pid) !== "running") return true;
    await sleep(100);
  }
  if (processState(pid) === "running") process.kill(pid, "SIGKILL");
  return true;
}
