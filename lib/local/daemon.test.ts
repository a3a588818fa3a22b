import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { processState } from "../os/proc";
import { runningPid, stopDaemon } from "./daemon";

describe("daemons by pid", () => {
  it("a zombie is not running: its pid is never taken for a live service", async () => {
    // sh starts a child that exits shortly, then execs sleep, which never reaps it: a zombie, as under an
    // init that does not reap orphans.
    const parent = spawn("sh", ["-c", "sleep 0.2 & echo $!; exec sleep 5"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    for (let i = 0; i < 50 && processState(pid) !== "zombie"; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(processState(pid)).toBe("zombie");
    expect(processState(parent.pid ?? -1)).toBe("running");
    const dir = mkdtempSync(join(tmpdir(), "daemon-test-"));
    const pidFile = join(dir, "pid");
    writeFileSync(pidFile, `${pid}\n`);
    const d = { name: "t", binary: "/bin/true", args: [], pidFile, logFile: join(dir, "log") };
    expect(runningPid(d)).toBeUndefined();
    parent.kill("SIGKILL");
  });

  it("a pid now running another program is not ours: stop signals nothing", async () => {
    const other = spawn("sleep", ["5"], { stdio: "ignore" });
    const dir = mkdtempSync(join(tmpdir(), "daemon-test-"));
    const pidFile = join(dir, "pid");
    writeFileSync(pidFile, `${other.pid}\n`);
    const d = { name: "t", binary: "/usr/bin/docker-registry", args: [], pidFile, logFile: join(dir, "log") };
    expect(await stopDaemon(d)).toBe(false);
    expect(processState(other.pid ?? -1)).toBe("running");
    other.kill("SIGKILL");
  });

  it("stops a daemon of ours by its pid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "daemon-test-"));
    const child = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
    const pidFile = join(dir, "pid");
    writeFileSync(pidFile, `${child.pid}\n`);
    const d = { name: "t", binary: "/bin/sleep", args: [], pidFile, logFile: join(dir, "log") };
    expect(runningPid(d)).toBe(child.pid);
    const exited = new Promise((r) => child.once("exit", r));
    expect(await stopDaemon(d)).toBe(true);
    await exited;
    expect(processState(child.pid ?? -1)).not.toBe("running");
  });
});
