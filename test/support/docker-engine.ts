// A real Docker engine for tests: Debian's dockerd 20.10 started loopback-only (or one that is already
// running), BuildKit builds through Debian's /usr/bin/docker client, an offline busybox root image, and
// build/push/inspect/run helpers that stand in for the docker-build provider end to end.
//
// Several test files (vitest runs up to 2 worker processes) may want the engine at once, and a daemon can
// only own /var/run/docker.sock once. So a daemon started here is shared: each ensureDocker() takes a lease
// under STATE_DIR, and only the last lease holder's stop() ends the daemon (by its recorded pid).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Debian's client (20.10): the preinstalled /usr/local/bin/docker (v28) refuses BuildKit without buildx. */
export const DOCKER = "/usr/bin/docker";
export const DOCKERD = "/usr/sbin/dockerd";
export const BUSYBOX = "/bin/busybox";
export const DOCKER_SOCKET = "unix:///var/run/docker.sock";
export const INSTALL_HINT = "apt-get install -y docker.io busybox-static";

/**
 * Loopback-only daemon: no bridge (its default one takes a private address range, which must never carry
 * traffic here), no iptables rules, and no ip_forward sysctl flip (nothing needs forwarding without a
 * bridge, and it is a host-wide setting). Builds use --network=host, containers --network=none.
 */
const DOCKERD_ARGS = [
  "--bridge=none",
  "--iptables=false",
  "--ip6tables=false",
  "--ip-forward=false",
  "--host",
  DOCKER_SOCKET,
];

/** Cross-process state of a daemon this helper started. Under /run: gone on reboot, like the daemon. */
const STATE_DIR = "/run/molecule-test-dockerd";
const STATE_FILE = path.join(STATE_DIR, "daemon.json");
const LEASE_DIR = path.join(STATE_DIR, "leases");
const LOCK_DIR = path.join(STATE_DIR, "lock");

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

/** In CI the Docker tier must run: a missing or broken engine is a failure there, never a skip. */
export function mustRunDocker(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false";
}

/**
 * Whether ensureDocker() can be expected to work: a daemon answers, or this process can start one.
 * Cheap and synchronous so a test file can decide at collection time whether to skip (and say why).
 */
export function dockerAvailable(): { ok: boolean; reason?: string } {
  if (process.platform !== "linux") return { ok: false, reason: `not Linux (${process.platform})` };
  if (!existsSync(DOCKER)) {
    return { ok: false, reason: `${DOCKER} (Debian's docker.io client) is missing: ${INSTALL_HINT}` };
  }
  if (!existsSync(BUSYBOX)) {
    return {
      ok: false,
      reason: `${BUSYBOX} is missing (the offline root image is made from it): ${INSTALL_HINT}`,
    };
  }
  const probe = spawnSync(DOCKER, ["version", "--format", "{{.Server.Version}}"], {
    env: { ...process.env, DOCKER_BUILDKIT: "1" },
    encoding: "utf8",
    timeout: 10_000,
  });
  if (probe.status === 0) return { ok: true };
  if (!existsSync(DOCKERD)) {
    return { ok: false, reason: `no Docker daemon answers and ${DOCKERD} is missing: ${INSTALL_HINT}` };
  }
  if (process.getuid?.() !== 0) {
    const why = (probe.stderr || probe.error?.message || "").trim();
    return { ok: false, reason: `no Docker daemon answers (${why}) and starting ${DOCKERD} needs root` };
  }
  return { ok: true };
}

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

export interface DockerCommandOptions {
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  input?: string | Uint8Array;
  cwd?: string;
  /** Kills the client (not the daemon's work) after this long. Default 10 minutes. */
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DockerEngine {
  /** "started": a daemon this helper runs (maybe shared with other test processes); "external": not ours. */
  readonly origin: "started" | "external";
  /** The daemon's pid, when this helper started it. */
  readonly pid: number | undefined;
  /** The daemon's data root, when this helper started it (a fresh temp dir, removed on the last stop). */
  readonly dataRoot: string | undefined;
  /** `/usr/bin/docker <args>` with DOCKER_BUILDKIT=1; throws with stderr on failure unless allowFailure. */
  docker(args: string[], opts?: DockerCommandOptions): Promise<DockerResult>;
  /** The tail of the daemon's log ("" for an external daemon), for failure messages. */
  log(): string;
  /** Releases this engine; stops the daemon only if this helper started it and no other lease remains. */
  stop(): Promise<void>;
}

interface DaemonState {
  pid: number;
  /** Temp dir holding the data root and the log. */
  workDir: string;
  dataRoot: string;
  logPath: string;
}

/**
 * A Docker engine to build with: the daemon that already answers `docker version` (left running), or a
 * loopback-only dockerd started here with a fresh data root. Throws (with the reason or the daemon's log
 * tail) when neither works, so a CI run fails loudly instead of skipping.
 */
export async function ensureDocker(opts: { startTimeoutMs?: number } = {}): Promise<DockerEngine> {
  const avail = dockerAvailable();
  if (!avail.ok) throw new Error(`Docker engine unavailable: ${avail.reason}`);
  // Without root this helper cannot have started a daemon (nor stop one): what answers is someone else's.
  if (process.getuid?.() !== 0) return externalEngine();
  return await withLock(async () => {
    const state = readState();
    if (state && isDockerd(state.pid)) {
      // Started by this helper for another test process (or orphaned by a killed run): share it.
      const env = ownEnv();
      if (!(await answers(env))) {
        throw new Error(`dockerd (pid ${state.pid}) is running but does not answer:\n${tail(state.logPath)}`);
      }
      return ownedEngine(state, addLease());
    }
    // The recorded daemon is gone (a crashed run): drop its leftovers before anything else.
    if (state) await forgetDaemon(state);
    if (await answers(process.env)) return externalEngine();
    const started = await startDaemon(opts.startTimeoutMs ?? 60_000);
    return ownedEngine(started, addLease());
  });
}

function externalEngine(): DockerEngine {
  const env = { ...process.env, DOCKER_BUILDKIT: "1" };
  return {
    origin: "external",
    pid: undefined,
    dataRoot: undefined,
    docker: (args, o) => runDocker(env, args, o),
    log: () => "",
    stop: async () => {},
  };
}

/** Pinned to the socket our daemon serves, whatever DOCKER_HOST the caller's shell has. */
function ownEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_BUILDKIT: "1", DOCKER_HOST: DOCKER_SOCKET };
}

function ownedEngine(state: DaemonState, lease: string): DockerEngine {
  const env = ownEnv();
  let stopping: Promise<void> | undefined;
  return {
    origin: "started",
    pid: state.pid,
    dataRoot: state.dataRoot,
    docker: (args, o) => runDocker(env, args, o),
    log: () => tail(state.logPath),
    stop: () => {
      stopping ??= withLock(async () => {
        releaseLease(lease);
        const current = readState();
        // Someone already stopped it (and maybe another daemon took its place): not ours to touch.
        if (!current || current.pid !== state.pid) return;
        if (liveLeases().length > 0) return;
        await stopDaemon(current);
      });
      return stopping;
    },
  };
}

async function startDaemon(timeoutMs: number): Promise<DaemonState> {
  // A fresh data root per run: no image, tag or build cache from an earlier run can make a test pass (a
  // FROM that should pull, a root image that should be imported), and nothing piles up on a laptop. It
  // costs little: the daemon is up in well under a second and the root image imports in about as long.
  const workDir = await mkdtemp(path.join(os.tmpdir(), "molecule-dockerd-"));
  const state: DaemonState = {
    pid: 0,
    workDir,
    dataRoot: path.join(workDir, "data"),
    logPath: path.join(workDir, "dockerd.log"),
  };
  const logFd = openSync(state.logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(DOCKERD, [...DOCKERD_ARGS, "--data-root", state.dataRoot], {
      stdio: ["ignore", logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    await rm(workDir, { recursive: true, force: true });
    throw new Error(`could not spawn ${DOCKERD}`);
  }
  state.pid = pid;
  // The daemon may outlive this process (another test process may hold a lease): don't keep it alive.
  child.unref();
  child.on("error", () => {});
  writeState(state);

  const env = ownEnv();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = tail(state.logPath);
      await forgetDaemon(state);
      throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode}) before answering:\n${log}`);
    }
    if (await answers(env)) return state;
    if (Date.now() > deadline) {
      const log = tail(state.logPath);
      await stopDaemon(state);
      throw new Error(`dockerd did not answer \`docker version\` within ${timeoutMs / 1000} s:\n${log}`);
    }
    await sleep(200);
  }
}

/** SIGTERM (SIGKILL after 30 s) to the recorded pid, if it still is a dockerd; then drop its files. */
async function stopDaemon(state: DaemonState): Promise<void> {
  if (isDockerd(state.pid)) {
    process.kill(state.pid, "SIGTERM");
    if (!(await waitGone(state.pid, 30_000)) && isDockerd(state.pid)) {
      process.kill(state.pid, "SIGKILL");
      await waitGone(state.pid, 5_000);
    }
  }
  await forgetDaemon(state);
}

async function forgetDaemon(state: DaemonState): Promise<void> {
  // After a clean shutdown nothing is mounted under the data root; after a SIGKILL an overlay mount
  // may be, and then rm fails: leave the dir rather than fail the run over a temp dir.
  await rm(state.workDir, { recursive: true, force: true }).catch(() => {});
  rmSync(STATE_FILE, { force: true });
  rmSync(LEASE_DIR, { recursive: true, force: true });
}

async function answers(env: NodeJS.ProcessEnv): Promise<boolean> {
  const res = await runDocker(env, ["version", "--format", "{{.Server.Version}}"], {
    allowFailure: true,
    timeoutMs: 10_000,
  });
  return res.code === 0;
}

// ---------------------------------------------------------------------------------------------
// Processes, leases, lock
// ---------------------------------------------------------------------------------------------

/**
 * Alive and not a zombie. Zombies matter here: PID 1 on these machines does not reap orphans, so a
 * daemon whose starter exited stays a zombie after it stops, and kill(pid, 0) would still succeed.
 */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const s = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return s !== "Z" && s !== "X";
  } catch {
    return false;
  }
}

/** The pid is alive and runs dockerd: a recorded pid may have been reused by an unrelated process. */
function isDockerd(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] === DOCKERD;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

function readState(): DaemonState | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, "utf8")) as DaemonState;
  } catch {
    return undefined;
  }
}

function writeState(state: DaemonState): void {
  mkdirSync(STATE_DIR, { recursive: true });
  writeFileSync(STATE_FILE, JSON.stringify(state));
}

/** Lease names start with the holder's pid, so leases of crashed processes can be told apart. */
const myLeases = new Set<string>();

function addLease(): string {
  installExitHook();
  mkdirSync(LEASE_DIR, { recursive: true });
  const name = `${process.pid}-${randomUUID()}`;
  writeFileSync(path.join(LEASE_DIR, name), "");
  myLeases.add(name);
  return name;
}

function releaseLease(name: string): void {
  myLeases.delete(name);
  rmSync(path.join(LEASE_DIR, name), { force: true });
}

/** Leases whose process still lives; dead ones are deleted on the way. */
function liveLeases(): string[] {
  let names: string[];
  try {
    names = readdirSync(LEASE_DIR);
  } catch {
    return [];
  }
  return names.filter((name) => {
    if (isAlive(Number(name.split("-")[0]))) return true;
    rmSync(path.join(LEASE_DIR, name), { force: true });
    return false;
  });
}

let exitHookInstalled = false;

/**
 * If a test process exits without stop() (a crash, a timeout), release its leases and, if it was the
 * last holder, SIGTERM the daemon. Synchronous, so no waiting: the next ensureDocker() removes the
 * leftover data root. A daemon orphaned by a SIGKILLed process is adopted by the next run.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    if (myLeases.size === 0) return;
    for (const name of [...myLeases]) releaseLease(name);
    try {
      mkdirSync(LOCK_DIR);
    } catch {
      return; // Another process is in a critical section; it or a later run will clean up.
    }
    try {
      const state = readState();
      if (state && liveLeases().length === 0 && isDockerd(state.pid)) process.kill(state.pid, "SIGTERM");
    } finally {
      rmSync(LOCK_DIR, { recursive: true, force: true });
    }
  });
}

/** A cross-process mutex (mkdir is atomic) around starting, adopting and stopping the daemon. */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(STATE_DIR, { recursive: true });
  const owner = path.join(LOCK_DIR, "owner");
  // Starting takes at most the start timeout; a holder stuck longer than this is a bug worth an error.
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(owner, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A lock left by a crashed process would block every later run: break it. Without an owner file
      // (the holder is between mkdir and write) wait for it unless the lock is clearly old.
      let stale: boolean;
      try {
        stale = !isAlive(Number(readFileSync(owner, "utf8")));
      } catch {
        stale = lockAgeMs() > 10_000;
      }
      if (stale) {
        rmSync(LOCK_DIR, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK_DIR}`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

function lockAgeMs(): number {
  try {
    return Date.now() - statSync(LOCK_DIR).mtimeMs;
  } catch {
    return 0;
  }
}

function tail(file: string, chars = 4000): string {
  try {
    return readFileSync(file, "utf8").slice(-chars);
  } catch {
    return "(no log)";
  }
}

// ---------------------------------------------------------------------------------------------
// Running the client
// ---------------------------------------------------------------------------------------------

async function runDocker(
  env: NodeJS.ProcessEnv,
  args: string[],
  opts: DockerCommandOptions = {},
): Promise<DockerResult> {
  const child = spawn(DOCKER, args, {
    env: { ...env, ...opts.env },
    cwd: opts.cwd,
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const code = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  }).finally(() => clearTimeout(timer));
  if (timedOut) stderr += `\n(killed after ${timeoutMs / 1000} s)`;
  if (code !== 0 && !opts.allowFailure) {
    throw new Error(`docker ${args.join(" ")} exited ${code}:\n${stderr.slice(-6000).trim()}`);
  }
  return { code, stdout, stderr };
}

// ---------------------------------------------------------------------------------------------
// The offline root image
// ---------------------------------------------------------------------------------------------

/** Bump when the recipe below changes: the label makes a stale image (on a reused daemon) be re-imported. */
const ROOTFS_RECIPE = "busybox-rootfs-v1";
const ROOTFS_LABEL = "org.molecule.test.rootfs";
/** What the sample Dockerfiles' entrypoint and identity-fallback scripts run. */
const REQUIRED_APPLETS = ["sh", "cp", "mkdir", "find", "dirname", "echo", "cat", "test", "["];
export const AGENT_UID = 1000;

/**
 * An image to build FROM without Docker Hub: busybox-static's /bin/busybox with a /bin symlink per
 * applet, /tmp, and /etc/passwd + /etc/group with root and a non-root "agent" (uid/gid 1000, home
 * /home/agent), imported with `docker import`. Skipped when the daemon already has this recipe's image.
 */
export async function importRootImage(engine: DockerEngine, name = "molecule-root:busybox"): Promise<string> {
  const busybox = await readFile(BUSYBOX);
  const recipe = createHash("sha256").update(`${ROOTFS_RECIPE}\n`).update(busybox).digest("hex").slice(0, 32);
  const have = await engine.docker(
    ["image", "inspect", "--format", `{{index .Config.Labels "${ROOTFS_LABEL}"}}`, name],
    { allowFailure: true },
  );
  if (have.code === 0 && have.stdout.trim() === recipe) return name;

  // The image has no libc: a dynamically linked busybox (Debian's plain `busybox` package also installs
  // /bin/busybox) would fail every RUN with a baffling "no such file or directory". ldd exits 0 only
  // for dynamic executables.
  if (spawnSync("ldd", [BUSYBOX]).status === 0) {
    throw new Error(`${BUSYBOX} is dynamically linked; the root image needs busybox-static: ${INSTALL_HINT}`);
  }
  const applets = spawnSync(BUSYBOX, ["--list"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  const missing = REQUIRED_APPLETS.filter((a) => !applets.includes(a));
  if (missing.length > 0) throw new Error(`${BUSYBOX} lacks applets the sample scripts need: ${missing}`);

  const work = await mkdtemp(path.join(os.tmpdir(), "molecule-rootfs-"));
  try {
    const root = path.join(work, "rootfs");
    for (const dir of ["bin", "etc", "tmp", "root", "usr/bin", "home/agent"]) {
      await mkdir(path.join(root, dir), { recursive: true, mode: 0o755 });
    }
    await copyFile(BUSYBOX, path.join(root, "bin/busybox"));
    await chmod(path.join(root, "bin/busybox"), 0o755);
    for (const applet of applets) {
      if (applet !== "busybox") await symlink("busybox", path.join(root, "bin", applet));
    }
    // `#!/usr/bin/env sh` is common in staged scripts; everything else lives in /bin.
    await symlink("/bin/busybox", path.join(root, "usr/bin/env"));
    await writeFile(
      path.join(root, "etc/passwd"),
      `root:x:0:0:root:/root:/bin/sh\nagent:x:${AGENT_UID}:${AGENT_UID}:agent:/home/agent:/bin/sh\n`,
    );
    await writeFile(path.join(root, "etc/group"), `root:x:0:\nagent:x:${AGENT_UID}:\n`);
    // Explicit modes: the process umask must not leak into the image.
    await chmod(path.join(root, "etc/passwd"), 0o644);
    await chmod(path.join(root, "etc/group"), 0o644);
    await chmod(path.join(root, "tmp"), 0o1777);
    await chmod(path.join(root, "root"), 0o700);

    // GNU tar with fixed order, times and owners, so the layer is the same bytes every time; the agent's
    // home is appended separately because --owner applies to a whole invocation.
    const tarPath = path.join(work, "rootfs.tar");
    const fixed = ["--sort=name", "--mtime=@0", "--numeric-owner", "-C", root];
    await run("tar", [
      ...fixed,
      "--owner=0",
      "--group=0",
      "-cf",
      tarPath,
      "bin",
      "etc",
      "root",
      "tmp",
      "usr",
    ]);
    await run("tar", [...fixed, "--owner=0", "--group=0", "-rf", tarPath, "--no-recursion", "home"]);
    await run("tar", [
      ...fixed,
      `--owner=${AGENT_UID}`,
      `--group=${AGENT_UID}`,
      "-rf",
      tarPath,
      "home/agent",
    ]);

    await engine.docker([
      "import",
      "--change",
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "--change",
      `LABEL ${ROOTFS_LABEL}=${recipe}`,
      "--change",
      'CMD ["/bin/sh"]',
      tarPath,
      name,
    ]);
    return name;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function run(cmd: string, args: string[]): Promise<void> {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${code}: ${stderr.trim()}`);
}

// ---------------------------------------------------------------------------------------------
// Build, push, inspect, run
// ---------------------------------------------------------------------------------------------

export interface BuildImageOptions {
  /** The build context directory. */
  context: string;
  /** Default <context>/Dockerfile; a relative path is relative to the process cwd, as with `docker -f`. */
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  tags: string[];
  /** RUN steps' network. Default "host": the daemon has no bridge, and only loopback may carry traffic. */
  network?: "host" | "none" | "default";
  noCache?: boolean;
  target?: string;
}

/**
 * `DOCKER_BUILDKIT=1 docker build` (the daemon's built-in BuildKit and Dockerfile frontend: no
 * `# syntax=` image can be pulled here). Never `--pull`: a base that is local (the imported root image)
 * must not be looked up on Docker Hub. Throws with the build log's tail on failure.
 */
export async function buildImage(engine: DockerEngine, opts: BuildImageOptions): Promise<void> {
  const args = ["build", "--progress=plain", `--network=${opts.network ?? "host"}`];
  args.push("-f", opts.dockerfile ?? path.join(opts.context, "Dockerfile"));
  for (const [k, v] of Object.entries(opts.buildArgs ?? {})) args.push("--build-arg", `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.labels ?? {})) args.push("--label", `${k}=${v}`);
  for (const tag of opts.tags) args.push("-t", tag);
  if (opts.noCache) args.push("--no-cache");
  if (opts.target) args.push("--target", opts.target);
  args.push(opts.context);
  await engine.docker(args);
}

/** `docker push <tag>`; returns the pushed manifest's digest (sha256:...). */
export async function pushImage(engine: DockerEngine, tag: string): Promise<string> {
  const res = await engine.docker(["push", tag]);
  // The last line is "<tag>: digest: sha256:<hex> size: <n>".
  const printed = /digest: (sha256:[0-9a-f]{64})/.exec(res.stdout)?.[1];
  if (printed) return printed;
  const repo = repositoryOf(tag);
  const inspect = await engine.docker(["image", "inspect", "--format", "{{json .RepoDigests}}", tag]);
  const digests = JSON.parse(inspect.stdout) as string[] | null;
  const match = digests?.find((d) => d.startsWith(`${repo}@`));
  if (!match) throw new Error(`pushed ${tag} but found no digest for ${repo}:\n${res.stdout}`);
  return match.slice(repo.length + 1);
}

/** host:port/repo[:tag][@digest] -> host:port/repo (the tag's ':' is the one after the last '/'). */
export function repositoryOf(ref: string): string {
  const noDigest = ref.split("@")[0] ?? ref;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/**
 * The image's RootFS.Layers: diff IDs (digests of the uncompressed layers), which a child image built
 * FROM it starts with; not the registry's compressed blob digests. Pulls the image first if absent.
 */
export async function imageLayers(engine: DockerEngine, ref: string): Promise<string[]> {
  const inspect = ["image", "inspect", "--format", "{{json .RootFS.Layers}}", ref];
  let res = await engine.docker(inspect, { allowFailure: true });
  if (res.code !== 0) {
    await engine.docker(["pull", ref]);
    res = await engine.docker(inspect);
  }
  return JSON.parse(res.stdout) as string[];
}

export interface VolumeMount {
  source: string;
  target: string;
  readOnly?: boolean;
}

export interface RunContainerOptions {
  args?: string[];
  volumes?: VolumeMount[];
  /** "uid[:gid]" or a name from the image's /etc/passwd. */
  user?: string;
  entrypoint?: string;
  env?: Record<string, string>;
}

/**
 * `docker run --rm --network=none`: the container gets no network at all (only loopback may carry
 * traffic here). Returns the exit code rather than throwing, so a test can assert on failures too.
 */
export async function runContainer(
  engine: DockerEngine,
  image: string,
  opts: RunContainerOptions = {},
): Promise<DockerResult> {
  const args = ["run", "--rm", "--network=none"];
  if (opts.user !== undefined) args.push("--user", opts.user);
  if (opts.entrypoint !== undefined) args.push("--entrypoint", opts.entrypoint);
  for (const v of opts.volumes ?? []) args.push("-v", `${v.source}:${v.target}${v.readOnly ? ":ro" : ""}`);
  for (const [k, v] of Object.entries(opts.env ?? {})) args.push("-e", `${k}=${v}`);
  args.push(image, ...(opts.args ?? []));
  return await engine.docker(args, { allowFailure: true });
}

/** Best-effort `docker rmi` of the given references (cleanup on a daemon that outlives the test). */
export async function removeImages(engine: DockerEngine, refs: string[]): Promise<void> {
  if (refs.length > 0) await engine.docker(["rmi", ...refs], { allowFailure: true });
}
