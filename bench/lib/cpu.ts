/**
 * CPU time from /proc, in clock ticks: what a measured run cost beyond its wall time, and how much of the
 * machine other processes took meanwhile (on 2 cores, any other load shows up in the numbers).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseMachineCpu, parseProcStat } from "./proc-stat";

/** A process's CPU plus its reaped children's; 0 when it is gone or unknown. */
export function processTicks(pid: number | "self" | undefined): number {
  if (pid === undefined) return 0;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return 0;
  }
  const s = parseProcStat(text);
  return s.utime + s.stime + s.cutime + s.cstime;
}

export const selfTicks = (): number => processTicks("self");

/** Busy and stolen CPU of the whole machine. */
export function machineCpu(): { busy: number; steal: number } {
  return parseMachineCpu(readFileSync("/proc/stat", "utf8"));
}

/** Ticks per second (`getconf CLK_TCK`), 100 when it cannot be told. */
export async function clockTicksPerSecond(): Promise<number> {
  return Number((await output("getconf", ["CLK_TCK"])).trim()) || 100;
}

function output(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}
