/** The bench's side of remote.ts: forks it, opens a fresh listener per timed check, and stops it. */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import type { FromRemote, RemoteMode, ToRemote } from "./remote";

export interface Remote {
  /** A fresh listener; its host:port. */
  open(mode: RemoteMode): Promise<string>;
  /** Closes the listener (and its connections); what it served. */
  close(): Promise<Extract<FromRemote, { cmd: "closed" }>>;
  stop(): Promise<void>;
}

export async function startRemote(target: string, latencyMs: number): Promise<Remote> {
  // The child runs the TypeScript as the bench does, whatever loader its parent (a bench, a test) has.
  const child: ChildProcess = fork(path.join(__dirname, "remote.ts"), {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, REMOTE_TARGET: target, REMOTE_LATENCY_MS: String(latencyMs) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const ask = async <C extends FromRemote["cmd"]>(msg: ToRemote, answer: C) => {
    child.send(msg);
    for (;;) {
      const [reply] = (await once(child, "message")) as [FromRemote];
      if (reply.cmd === answer) return reply as Extract<FromRemote, { cmd: C }>;
    }
  };
  return {
    open: async (mode) => `127.0.0.1:${(await ask({ cmd: "open", mode }, "opened")).port}`,
    close: () => ask({ cmd: "close" }, "closed"),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.disconnect();
      await once(child, "exit");
    },
  };
}
