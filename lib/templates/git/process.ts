/**
 * Running git: by name through PATH, argv only, each in its own process group so a timeout, an abort or the
 * stager's exit kills git's helpers too, and bounded by inactivity as well as by an overall cap.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { exitFailure, GitError } from "./failure";

/** Default inactivity bound (seconds) for one git operation; `--git-timeout-s` changes it. */
export const DEFAULT_INACTIVITY_S = 30;

export interface GitRun {
  env: NodeJS.ProcessEnv;
  /** Hard cap on one git process, a backstop to the inactivity bound; on expiry its whole group is killed. */
  timeoutMs: number;
  /**
   * A git process that prints nothing (output or progress) for this long while the stager waits on it is
   * killed with its whole process group (default DEFAULT_INACTIVITY_S).
   */
  inactivityS?: number;
  /** The origins tokens are sent to: fetches from them never follow a redirect (see noRedirectArgs). */
  tokenOrigins?: readonly string[];
  /** The Authorization header for a token's origin (direct-fetch.ts): held here, never in env or argv. */
  authorizationFor?: (origin: string) => string | undefined;
  /** How many GIT_CONFIG_COUNT entries of `env` are the caller's own (the stager's follow them). */
  userConfigCount?: number;
  /** false: never fetch directly (direct-fetch.ts), always through `git fetch`. */
  direct?: boolean;
  signal?: AbortSignal;
}

/**
 * Process groups of git commands still running. Each git runs detached (its own group), so a signal
 * to the stager's group no longer reaches it: the CLI's signal handler and process exit kill these.
 */
const liveGroups = new Set<number>();
let exitHook = false;

/** Kills a detached child's whole process group: git-remote-http children would otherwise live on. */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Kills every git process group this process started and that is still running (signal handlers). */
export function killGitGroups(): void {
  for (const pgid of liveGroups) killGroup(pgid);
  liveGroups.clear();
}

/** Spawns git by name (so PATH decides which git) with argv only, never through a shell, detached. */
export function spawnGit(args: string[], run: GitRun, stdin: "pipe" | "ignore"): ChildProcess {
  if (!exitHook) {
    exitHook = true;
    process.once("exit", killGitGroups);
  }
  // Its own process group, so a timeout or an abort kills git's helpers (git-remote-http, index-pack)
  // with it: they hold its pipes open, and a run waiting on those pipes would never end.
  const child = spawn("git", args, { env: run.env, stdio: [stdin, "pipe", "pipe"], detached: true });
  const pid = child.pid;
  if (pid !== undefined) {
    liveGroups.add(pid);
    // Not "close": that waits for the pipes, which a surviving helper may hold. The group is killed once
    // more on the way out in case a helper outlives git itself.
    child.once("exit", () => {
      killGroup(pid);
      liveGroups.delete(pid);
    });
  }
  return child;
}

export type Watchdog = ReturnType<typeof watchdog>;

/**
 * Kills `child`'s group when it shows no sign of life (a byte of output or progress) for `seconds` while
 * armed. Returns the controls; `fired` says whether it did.
 */
export function watchdog(child: ChildProcess, seconds: number) {
  let timer: NodeJS.Timeout | undefined;
  const state = {
    fired: false,
    arm() {
      // refresh(): called per chunk of output, so no new timer each time.
      if (timer) timer.refresh();
      else
        timer = setTimeout(() => {
          state.fired = true;
          killGroup(child.pid);
        }, seconds * 1000);
    },
    disarm() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
  return state;
}

export const idleMessage = (command: string, seconds: number) =>
  `${command}: no output or progress for ${seconds} s (the inactivity bound, --git-timeout-s): killed it and its helpers`;

interface GitResult {
  stdout: Buffer;
  stderr: string;
}

/** The subcommand, for messages: "git fetch", not "git --git-dir <dir>". */
function commandOf(args: string[]): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--git-dir" || args[i] === "-c") i++;
    else return `git ${args[i]}`;
  }
  return "git";
}

/**
 * Runs git to completion. Bounded twice: by inactivity (no output or progress for run.inactivityS) and by
 * run.timeoutMs overall; either kills the whole process group.
 */
export function git(args: string[], run: GitRun, input?: string): Promise<GitResult> {
  const command = commandOf(args);
  const seconds = run.inactivityS ?? DEFAULT_INACTIVITY_S;
  return new Promise((resolve, reject) => {
    if (run.signal?.aborted) return reject(new GitError(`${command}: aborted`, "transient"));
    const child = spawnGit(args, run, input === undefined ? "ignore" : "pipe");
    const onAbort = () => killGroup(child.pid);
    run.signal?.addEventListener("abort", onAbort, { once: true });
    const idle = watchdog(child, seconds);
    idle.arm();
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      idle.arm();
      out.push(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      idle.arm();
      // Keep the tail only: progress output from a big fetch can be long.
      stderr = (stderr + chunk.toString("utf8")).slice(-16_384);
    });
    const timer = setTimeout(() => killGroup(child.pid), run.timeoutMs);
    const done = () => {
      clearTimeout(timer);
      idle.disarm();
      run.signal?.removeEventListener("abort", onAbort);
    };
    child.on("error", (err) => {
      done();
      reject(new GitError(`${command}: ${err.message}`, "transient"));
    });
    child.on("close", (code, sig) => {
      done();
      if (code === 0) return resolve({ stdout: Buffer.concat(out), stderr });
      if (idle.fired) return reject(new GitError(idleMessage(command, seconds), "transient", stderr, true));
      reject(exitFailure(command, code, sig, stderr));
    });
    if (child.stdin) {
      // git exiting early (bad object) closes its stdin; the close handler reports why.
      child.stdin.on("error", () => {});
      child.stdin.end(input);
    }
  });
}
