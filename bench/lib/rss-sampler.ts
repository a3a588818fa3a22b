/**
 * Samples the summed RSS of a process tree from /proc (Linux only). Started by bench/lib/rss.ts as a
 * process of its own: its reads then neither stall the bench's event loop (which also serves git over
 * HTTP, so a stall there would slow the run being measured) nor count in the measured tree.
 *
 * Protocol, one line each way: "watch <pid> <intervalMs>" -> "watching"; "stop" -> the result as JSON.
 * It exits when stdin closes, so it cannot outlive the bench however the bench ends.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { parseProcStat } from "./proc-stat";

export interface RssPeak {
  samples: number;
  intervalMs: number;
  /** Highest summed RSS of the whole tree, in bytes, and how it split at that moment. */
  peakBytes: number;
  atPeak: { nodeBytes: number; gitBytes: number; otherBytes: number; processes: number };
  /** Highest summed RSS of git processes alone (git, git-remote-http, index-pack...). */
  peakGitBytes: number;
  /** Highest summed RSS of the node processes alone (the stager), sampled. */
  peakNodeBytes: number;
  /** Highest VmHWM (the kernel's own peak, so no sample can miss it) of any one node process. */
  peakNodeHwmBytes: number;
  /** Highest VmHWM seen of any one git process (read while it lives, so its last moments may be missed). */
  peakGitHwmBytes: number;
  peakProcesses: number;
  /** Most git-remote-http processes alive at once: one per fetch or clone in flight. */
  peakRemoteHelpers: number;
  /**
   * CPU of the tree in clock ticks (see `getconf CLK_TCK`), user and system, including children it has
   * reaped. Taken as the highest sum seen, so it misses at most the last interval before exit.
   */
  cpuUserTicks: number;
  cpuSysTicks: number;
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return ""; // the process exited between listing and reading: it simply no longer counts
  }
}

/** The root and all its descendants, via /proc/<pid>/task/<tid>/children (any thread may have forked). */
function tree(root: number): number[] {
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    out.push(pid);
    for (const tid of tasks) {
      for (const child of read(`/proc/${pid}/task/${tid}/children`).split(" ")) {
        if (child.trim()) stack.push(Number(child));
      }
    }
  }
  return out;
}

function memory(pid: number): { rss: number; hwm: number } {
  // Zombies have no VmRSS line: they hold no memory any more.
  const status = read(`/proc/${pid}/status`);
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/** comm and CPU ticks, the process's own and its reaped children's. */
function stat(pid: number): { comm: string; user: number; sys: number } {
  const s = parseProcStat(read(`/proc/${pid}/stat`));
  return { comm: s.comm, user: s.utime + s.cutime, sys: s.stime + s.cstime };
}

function sample(root: number) {
  const s = {
    nodeBytes: 0,
    nodeHwm: 0,
    gitHwm: 0,
    gitBytes: 0,
    otherBytes: 0,
    processes: 0,
    remoteHelpers: 0,
    user: 0,
    sys: 0,
  };
  // tree() lists parents before children: a child reaped between the two reads is then missed, never
  // counted twice (once in the parent's cutime, once itself), so the highest sum is a safe estimate.
  for (const pid of tree(root)) {
    const { comm, user, sys } = stat(pid);
    const { rss, hwm } = memory(pid);
    s.user += user;
    s.sys += sys;
    s.processes++;
    if (comm === "node") {
      s.nodeBytes += rss;
      s.nodeHwm = Math.max(s.nodeHwm, hwm);
    } else if (comm === "git" || comm.startsWith("git-")) {
      s.gitBytes += rss;
      s.gitHwm = Math.max(s.gitHwm, hwm);
    } else s.otherBytes += rss;
    if (comm.startsWith("git-remote-http")) s.remoteHelpers++;
  }
  return s;
}

function emptyPeak(intervalMs: number): RssPeak {
  return {
    samples: 0,
    intervalMs,
    peakBytes: 0,
    atPeak: { nodeBytes: 0, gitBytes: 0, otherBytes: 0, processes: 0 },
    peakGitBytes: 0,
    peakNodeBytes: 0,
    peakNodeHwmBytes: 0,
    peakGitHwmBytes: 0,
    peakProcesses: 0,
    peakRemoteHelpers: 0,
    cpuUserTicks: 0,
    cpuSysTicks: 0,
  };
}

/** Folds one sample into the peaks so far. */
function record(p: RssPeak, s: ReturnType<typeof sample>): void {
  const total = s.nodeBytes + s.gitBytes + s.otherBytes;
  p.samples++;
  if (total > p.peakBytes) {
    p.peakBytes = total;
    p.atPeak = {
      nodeBytes: s.nodeBytes,
      gitBytes: s.gitBytes,
      otherBytes: s.otherBytes,
      processes: s.processes,
    };
  }
  p.peakGitBytes = Math.max(p.peakGitBytes, s.gitBytes);
  p.peakNodeBytes = Math.max(p.peakNodeBytes, s.nodeBytes);
  p.peakNodeHwmBytes = Math.max(p.peakNodeHwmBytes, s.nodeHwm);
  p.peakGitHwmBytes = Math.max(p.peakGitHwmBytes, s.gitHwm);
  p.peakProcesses = Math.max(p.peakProcesses, s.processes);
  p.peakRemoteHelpers = Math.max(p.peakRemoteHelpers, s.remoteHelpers);
  if (s.user + s.sys > p.cpuUserTicks + p.cpuSysTicks) {
    p.cpuUserTicks = s.user;
    p.cpuSysTicks = s.sys;
  }
}

function main(): void {
  let timer: NodeJS.Timeout | undefined;
  let peak: RssPeak | undefined;
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const [cmd, pidText, intervalText] = line.trim().split(" ");
    if (cmd === "watch") {
      const root = Number(pidText);
      const intervalMs = Number(intervalText) || 20;
      const p = emptyPeak(intervalMs);
      peak = p;
      const tick = () => {
        const started = performance.now();
        record(p, sample(root));
        // Subtract the sample's own cost so the rate stays near the interval.
        timer = setTimeout(tick, Math.max(1, intervalMs - (performance.now() - started)));
      };
      tick();
      process.stdout.write("watching\n");
    } else if (cmd === "stop") {
      clearTimeout(timer);
      process.stdout.write(`${JSON.stringify(peak ?? null)}\n`);
      peak = undefined;
    }
  });
  rl.on("close", () => {
    clearTimeout(timer);
    process.exit(0);
  });
}

main();
