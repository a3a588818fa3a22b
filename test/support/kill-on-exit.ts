// A server left behind by a crashed test process would keep its port (and a temp dir): every server a test
// support module starts is killed, by its own pid, when the test process exits.
import type { ChildProcess } from "node:child_process";

const live = new Set<number>();
process.once("exit", () => {
  for (const pid of live) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

/** Kills `child` if the test process exits while it still runs. */
export function killOnExit(child: ChildProcess): void {
  const pid = child.pid;
  if (pid === undefined) return;
  live.add(pid);
  child.once("exit", () => live.delete(pid));
}
