/** Client side of bench/lib/rss-sampler.ts: one long-lived sampler process, pointed at one tree at a time. */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { REPO_ROOT } from "./paths";
import type { RssPeak } from "./rss-sampler";

export type { RssPeak };

const SAMPLER = join(__dirname, "rss-sampler.ts");

export class RssSampler {
  private readonly lines: string[] = [];
  private waiting: ((line: string) => void) | undefined;

  private constructor(private readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    let buffered = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const waiter = this.waiting;
        this.waiting = undefined;
        if (waiter) waiter(line);
        else this.lines.push(line);
      }
    });
  }

  /** Its CPU is the bench's own overhead: it must not be counted as the machine's other load. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  static start(): RssSampler {
    // Plain node with tsx's loader: one process (the tsx launcher would add a second one), and a
    // child that does not need the launcher to pass signals on.
    const child = spawn(process.execPath, ["--import", "tsx", SAMPLER], {
      cwd: REPO_ROOT,
      stdio: ["pipe", "pipe", "inherit"],
    });
    return new RssSampler(child);
  }

  private next(): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`rss sampler exited (${code})`));
      this.child.once("exit", onExit);
      this.waiting = (line) => {
        this.child.off("exit", onExit);
        resolve(line);
      };
    });
  }

  async watch(pid: number, intervalMs: number): Promise<void> {
    this.child.stdin.write(`watch ${pid} ${intervalMs}\n`);
    const ack = await this.next();
    if (ack !== "watching") throw new Error(`rss sampler: unexpected reply ${JSON.stringify(ack)}`);
  }

  async stop(): Promise<RssPeak> {
    this.child.stdin.write("stop\n");
    const peak = JSON.parse(await this.next()) as RssPeak | null;
    if (!peak) throw new Error("rss sampler: stop without watch");
    return peak;
  }

  /** Closing stdin is the sampler's signal to exit; the kill covers a sampler that is stuck. */
  close(): void {
    this.child.stdin.end();
    if (this.child.exitCode === null) setTimeout(() => this.child.kill("SIGKILL"), 1000).unref();
  }

  /** Waits until the first "watch" can be answered, so the first measured run is not sampled late. */
  async ready(): Promise<void> {
    this.child.stdin.write(`watch ${process.pid} 1000\n`);
    await this.next();
    await this.stop();
  }
}
