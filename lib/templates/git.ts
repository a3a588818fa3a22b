/**
 * Git I/O for the stager: fetch one pinned commit into a private bare repository, read its trees, and
 * stream its blobs, raw, to files the caller opens. Nothing here knows about manifests or staging layout.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { TreeError } from "./tree";

export type GitFailureKind =
  | "missing-repo" // permanent: the repository does not exist (or is invisible to us)
  | "missing-ref" // permanent: the commit is not in the repository
  | "auth" // permanent: credentials missing or rejected
  | "refused" // the server will not serve an unadvertised SHA; use the fallback fetch
  | "redirect" // permanent: the host redirects to another host, where the token must not go
  | "transient"; // network, server error, killed process: worth retrying

export class GitError extends Error {
  constructor(
    message: string,
    readonly kind: GitFailureKind,
    readonly stderr = "",
  ) {
    super(message);
    this.name = "GitError";
  }
}

/** Decides whether a failed git command is worth retrying. Unknown failures count as transient. */
export function classifyGitFailure(stderr: string): GitFailureKind {
  if (/does not allow request for unadvertised object/i.test(stderr)) return "refused";
  if (/not our ref|couldn't find remote ref|no such remote ref|unable to find [0-9a-f]{40}/i.test(stderr)) {
    return "missing-ref";
  }
  if (
    /Authentication failed|could not read (Username|Password)|returned error: 40[13]\b|\b40[13] (Unauthorized|Forbidden)/i.test(
      stderr,
    )
  ) {
    return "auth";
  }
  if (
    /repository '.*' not found|does not appear to be a git repository|Repository not found|returned error: 404\b/i.test(
      stderr,
    )
  ) {
    return "missing-repo";
  }
  return "transient";
}

/** Hides userinfo in URLs so a credential someone put in --git-base-url never reaches a log. */
export function redactUrl(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, "$1***@");
}

export interface GitAuth {
  /** Base URL the token belongs to; the header is scoped to it so it never goes to another host. */
  baseUrl: string;
  token: string;
  /** The Basic user name sent with the token: "oauth2" (Gitea, the default) or "x-access-token" (GitHub). */
  user?: string;
}

// Variables that would make git print secrets (curl traces) or act on a repository other than ours, and
// the raw tokens themselves: git gets them only as headers, and no child needs the variables.
const SCRUBBED_ENV =
  /^(MOLECULE_GITEA_TOKEN|MOLECULE_GITHUB_TOKEN|GIT_TRACE.*|GIT_CURL_VERBOSE|GIT_TRACE_REDACT|GIT_DIR|GIT_WORK_TREE|GIT_INDEX_FILE|GIT_OBJECT_DIRECTORY|GIT_ALTERNATE_OBJECT_DIRECTORIES|GIT_NAMESPACE|GIT_CEILING_DIRECTORIES)$/;

/**
 * The environment every git child gets. Each token travels as an `http.<origin>/.extraHeader` set through
 * GIT_CONFIG_COUNT/KEY/VALUE: it is then in no argv, no URL and no .git/config, and git sends it only to
 * URLs of its own origin (scheme, host and port all match).
 */
export function gitEnv(
  base: NodeJS.ProcessEnv,
  auths: readonly GitAuth[] = [],
  inactivitySeconds = DEFAULT_INACTIVITY_S,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) if (!SCRUBBED_ENV.test(key)) env[key] = value;
  env.GIT_TERMINAL_PROMPT = "0"; // a prompt would hang a CI job forever
  env.GCM_INTERACTIVE = "never";
  env.GIT_ASKPASS = "true"; // answer any credential question with nothing instead of blocking
  env.SSH_ASKPASS = "true";
  env.LC_ALL = "C"; // stderr is classified by its English text
  // The inactivity bound on every HTTP transfer: git (curl) gives up when less than 1 byte a second arrives
  // for this long, so a server that accepts and never answers, or trickles, fails instead of hanging.
  env.GIT_HTTP_LOW_SPEED_LIMIT = "1";
  env.GIT_HTTP_LOW_SPEED_TIME = String(Math.max(1, Math.ceil(inactivitySeconds)));
  const config: Array<[string, string]> = [
    ["gc.auto", "0"],
    ["maintenance.auto", "false"],
    ["fetch.writeCommitGraph", "false"],
    ["protocol.version", "2"],
    // Keep a fetched pack as one file: exploding a small pack into loose objects is a file per object.
    ["fetch.unpackLimit", "1"],
    ["transfer.unpackLimit", "1"],
  ];
  for (const [origin, auth] of tokenOrigins(auths)) {
    // Scoped to the host (origin) the token belongs to, so it also covers a same-host redirect's new path.
    const basic = Buffer.from(`${auth.user ?? "oauth2"}:${auth.token}`).toString("base64");
    config.push([`http.${origin}/.extraHeader`, `Authorization: Basic ${basic}`]);
    // git loads the header for the URL it was given and sends it on every request, including those that go
    // to wherever a redirect pointed: for the token's host, git follows no redirect; fetchCommit decides
    // (same origin only). Every fetch also pins this for its exact URL (noRedirectArgs): a more specific
    // http.<url>.followRedirects in the caller's config would outrank this one.
    config.push([`http.${origin}/.followRedirects`, "false"]);
  }
  // Append to, never replace, config the caller already passes this way.
  const existing = Number(env.GIT_CONFIG_COUNT ?? "0") || 0;
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${existing + i}`] = key;
    env[`GIT_CONFIG_VALUE_${existing + i}`] = value;
  });
  env.GIT_CONFIG_COUNT = String(existing + config.length);
  return env;
}

/** Default inactivity bound (seconds) for one git operation; `--git-timeout-s` changes it. */
export const DEFAULT_INACTIVITY_S = 30;

/**
 * The origin (scheme://host[:port]) each token belongs to, for http(s) base URLs only. Two different tokens
 * for one origin are refused: git would send both headers to it, and each to the other's repositories.
 */
function tokenOrigins(auths: readonly GitAuth[]): Map<string, GitAuth> {
  const byOrigin = new Map<string, GitAuth>();
  for (const auth of auths) {
    if (!/^https?:\/\//i.test(auth.baseUrl)) continue;
    const origin = new URL(auth.baseUrl).origin;
    const other = byOrigin.get(origin);
    if (other && (other.token !== auth.token || other.user !== auth.user))
      throw new GitAuthConflict(`two tokens for one host (${redactUrl(origin)}): give each host its own`);
    byOrigin.set(origin, auth);
  }
  return byOrigin;
}

/** Two tokens were given for one host. */
export class GitAuthConflict extends Error {
  override name = "GitAuthConflict";
}

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
  signal?: AbortSignal;
}

/** The GitRun for a stage: git's environment, the tokens' origins, the bounds. */
export function gitRun(opts: {
  base: NodeJS.ProcessEnv;
  auths?: readonly GitAuth[];
  inactivityS?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}): GitRun {
  const inactivityS = opts.inactivityS ?? DEFAULT_INACTIVITY_S;
  return {
    env: gitEnv(opts.base, opts.auths, inactivityS),
    timeoutMs: opts.timeoutMs ?? 600_000,
    inactivityS,
    tokenOrigins: [...tokenOrigins(opts.auths ?? []).keys()],
    signal: opts.signal,
  };
}

/**
 * `-c http.<url>/.followRedirects=false` for a fetch from a token's origin. git picks an http.<url>.*
 * setting by how specific its URL is (host, then path length, then user), and a command-line `-c` comes
 * after every config file and GIT_CONFIG_PARAMETERS it inherits: the exact URL git matches (with the
 * trailing slash git adds, the user but never the password) cannot be outranked, so no configuration
 * can make git carry the token's header to wherever a redirect points.
 */
export function noRedirectArgs(url: string, run: GitRun): string[] {
  if (!run.tokenOrigins?.length || !/^https?:\/\//i.test(url)) return [];
  const u = new URL(url);
  if (!run.tokenOrigins.includes(u.origin)) return [];
  const user = u.username ? `${u.username}@` : "";
  const path = u.pathname.endsWith("/") ? u.pathname : `${u.pathname}/`;
  return ["-c", `http.${u.protocol}//${user}${u.host}${path}.followRedirects=false`];
}

/**
 * Process groups of git commands still running. Each git runs detached (its own group), so a signal
 * to the stager's group no longer reaches it: the CLI's signal handler and process exit kill these.
 */
const liveGroups = new Set<number>();
let exitHook = false;

/** Kills a detached child's whole process group: git-remote-http children would otherwise live on. */
function killGroup(pid: number | undefined): void {
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
function spawnGit(args: string[], run: GitRun, stdin: "pipe" | "ignore"): ChildProcess {
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

/**
 * Kills `child`'s group when it shows no sign of life (a byte of output or progress) for `seconds` while
 * armed. Returns the controls; `fired` says whether it did.
 */
function watchdog(child: ChildProcess, seconds: number) {
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

/** Drops git's progress meter lines, keeping what explains a failure. */
function withoutProgress(stderr: string): string {
  return stderr
    .split(/[\r\n]+/)
    .filter(
      (line) =>
        line.trim() !== "" &&
        !/^(remote: )?[A-Za-z][A-Za-z ]*: +\d+% \(\d+\/\d+\)|^(remote: )?(Enumerating|Counting|Compressing|Total) /.test(
          line,
        ),
    )
    .join("\n");
}

const idleMessage = (command: string, seconds: number) =>
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
      if (idle.fired) return reject(new GitError(idleMessage(command, seconds), "transient", stderr));
      const how = sig ? `was killed (${sig})` : `exited ${code}`;
      const detail = redactUrl(withoutProgress(stderr).trim().split("\n").slice(-3).join(" | "));
      // A killed git (OOM killer, timeout) is the textbook transient failure.
      const kind = sig ? "transient" : classifyGitFailure(stderr);
      reject(new GitError(`${command} ${how}${detail ? `: ${detail}` : ""}`, kind, stderr));
    });
    if (child.stdin) {
      // git exiting early (bad object) closes its stdin; the close handler reports why.
      child.stdin.on("error", () => {});
      child.stdin.end(input);
    }
  });
}

/**
 * A bare repository's skeleton, written directly: `git init` would be one more fork of this (large)
 * process per entry, and nothing but fetched objects ever lives here (no hooks, no templates).
 */
export function initBare(gitDir: string): void {
  for (const dir of ["objects/pack", "refs/heads", "refs/tags"])
    mkdirSync(join(gitDir, dir), { recursive: true });
  writeFileSync(join(gitDir, "HEAD"), "ref: refs/heads/main\n");
  writeFileSync(join(gitDir, "config"), "[core]\n\trepositoryformatversion = 0\n\tbare = true\n");
}

async function hasCommit(gitDir: string, sha: string, run: GitRun): Promise<boolean> {
  try {
    await git(["--git-dir", gitDir, "cat-file", "-e", `${sha}^{commit}`], run);
    return true;
  } catch {
    return false;
  }
}

async function isShallow(gitDir: string, run: GitRun): Promise<boolean> {
  const { stdout } = await git(["--git-dir", gitDir, "rev-parse", "--is-shallow-repository"], run);
  return stdout.toString().trim() === "true";
}

export interface FetchOutcome {
  /** Set when the server refused a fetch by SHA and branch history had to be walked. */
  fallback?: { depth: number };
}

// --no-auto-maintenance: otherwise every fetch forks `git maintenance run --auto` just to learn it is off.
// --progress: the progress meter (on stderr even when it is no terminal) is the sign of life the
// inactivity bound watches; a transfer that moves data updates it every second.
const FETCH = [
  "fetch",
  "--progress",
  "--no-tags",
  "--no-write-fetch-head",
  "--no-recurse-submodules",
  "--no-auto-maintenance",
];

/**
 * Fetches exactly `sha` at depth 1. If the server refuses unadvertised SHAs, falls back to the
 * smallest fetch that reaches it: every branch and tag tip at depth 1, deepened geometrically until the
 * commit appears or history is complete.
 */
export async function fetchCommit(
  gitDir: string,
  url: string,
  sha: string,
  run: GitRun,
): Promise<FetchOutcome> {
  for (let hops = 0; ; hops++) {
    try {
      return await fetchFrom(gitDir, url, sha, run);
    } catch (err) {
      if (!(err instanceof GitError) || !REDIRECTED.test(err.stderr) || hops >= 5) throw err;
      url = await sameOriginRedirect(url, (run.inactivityS ?? DEFAULT_INACTIVITY_S) * 1000);
    }
  }
}

const REDIRECTED = /returned error: 30[12378]\b/;

/**
 * Where a redirecting git URL points, asked without the token. A redirect within the same origin (scheme,
 * host and port) is followed; one to another host is a failure, and the token is never sent there. The
 * question is bounded like any git operation: by the inactivity bound (a server that redirects and then
 * falls silent must not hold the entry longer than one that is silent from the start).
 */
export async function sameOriginRedirect(url: string, timeoutMs: number): Promise<string> {
  const probe = `${url}/info/refs?service=git-upload-pack`;
  let res: Response;
  try {
    res = await fetch(probe, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new GitError(
      `${redactUrl(url)} redirects, and asking where failed: ${(err as Error).message}`,
      "transient",
    );
  }
  await res.body?.cancel();
  const location = res.headers.get("location");
  const target = location ? new URL(location, probe) : undefined;
  if (!target) throw new GitError(`${redactUrl(url)} answers ${res.status} without a Location`, "transient");
  if (target.origin !== new URL(url).origin) {
    throw new GitError(
      `${redactUrl(url)} redirects to ${target.origin}, another host: not followed, so the token is not sent there`,
      "redirect",
    );
  }
  return target.href.replace(/\/info\/refs\?service=git-upload-pack$/, "").replace(/\/$/, "");
}

async function fetchFrom(gitDir: string, url: string, sha: string, run: GitRun): Promise<FetchOutcome> {
  const pin = noRedirectArgs(url, run);
  try {
    // A fetch by SHA fails outright when the commit is absent, so success needs no second check.
    await git([...pin, "--git-dir", gitDir, ...FETCH, "--depth=1", url, sha], run);
    return {};
  } catch (err) {
    if (!(err instanceof GitError) || err.kind !== "refused") throw err;
  }
  // Branches and tags: a pin may be reachable only from a release tag.
  const refs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"];
  await git([...pin, "--git-dir", gitDir, ...FETCH, "--depth=1", url, ...refs], run);
  let depth = 1;
  for (let step = 16; ; step *= 4) {
    if (await hasCommit(gitDir, sha, run)) return { fallback: { depth } };
    if (!(await isShallow(gitDir, run))) {
      throw new GitError(`commit ${sha} is not on any branch of the repository`, "missing-ref");
    }
    await git([...pin, "--git-dir", gitDir, ...FETCH, `--deepen=${step}`, url, ...refs], run);
    depth += step;
  }
}

export interface TreeEntry {
  mode: string; // "100644" | "100755" | "120000" | "160000"
  type: "blob" | "commit";
  oid: string;
  path: string;
}

/** Where one blob's bytes go: `open` is called when they start to arrive, `close` after the last. */
export interface BlobSink {
  oid: string;
  open(): number;
  close(fd: number): void;
}

export interface CommitContents {
  /** Committer time (seconds): the staged files' mtime, so it is the same on every machine. */
  time: number;
  files: TreeEntry[];
  /** Symlink path -> target (the link blob's bytes as UTF-8). */
  links: Map<string, string>;
  /**
   * Streams the named blobs, raw, each into the file descriptor its sink opens: no blob is ever held in
   * memory whole, whatever its size. Only blobs of the tree (checked by readCommit) can be asked for.
   */
  writeBlobs(sinks: BlobSink[]): Promise<void>;
  /** Ends the cat-file process; call it once the blobs are written, or on any failure. */
  close(): Promise<void>;
}

/** Longest symlink target Linux stores (PATH_MAX less the terminating NUL). */
const MAX_LINK_BYTES = 4095;
/** A commit or tree object larger than this is not a template's: refused rather than read into memory. */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;

interface Pending {
  oid: string;
  /** Only the header ("info", --batch-command): start() gets the type and size, and no body follows. */
  info?: boolean;
  /** Called with the object's type and size once its header arrives; returns where its bytes go. */
  start(type: string, size: number): { data(chunk: Buffer): void; end(): void };
  missing(): void;
  fail(err: Error): void;
}

/**
 * One long-lived `git cat-file --batch`: objects are asked for by id and answered in order, each body
 * handed on chunk by chunk as it arrives, so memory does not grow with object size. Requests may be
 * pipelined (many written before the first answer). Watched for inactivity only while an answer is due.
 */
class CatFile {
  private readonly child: ChildProcess;
  private readonly queue: Pending[] = [];
  private readonly idle: ReturnType<typeof watchdog>;
  private readonly seconds: number;
  private header = Buffer.alloc(0);
  /** The object whose bytes are arriving, and who asked for it (failed too if git dies mid-object). */
  private body:
    | { remaining: number; pending: Pending; sink: { data(chunk: Buffer): void; end(): void } }
    | undefined;
  private failed: Error | undefined;
  private stderr = "";
  private closing = false;

  private readonly buffered: boolean;
  private answered = false;
  private flushing = false;

  /**
   * "command": `--batch-command --buffer` (git 2.36 and later), which answers both `info` (type and size
   * only) and `contents`, at each `flush`, so one process serves a whole entry. "batch": `--batch`,
   * contents only. "buffered": `--batch --buffer`, not flushed after each object, for a batch whose
   * requests are all known at once (stream): answers then come only as git's buffer fills and when its
   * input ends, so it serves exactly one stream() and nothing else.
   */
  constructor(
    gitDir: string,
    run: GitRun,
    private readonly mode: "command" | "batch" | "buffered",
  ) {
    this.seconds = run.inactivityS ?? DEFAULT_INACTIVITY_S;
    this.buffered = mode === "buffered";
    // Raw objects: no --textconv/--filters, so no attribute, eol rule or user config alters a byte.
    const how =
      mode === "command"
        ? ["--batch-command", "--buffer"]
        : mode === "batch"
          ? ["--batch"]
          : ["--batch", "--buffer"];
    this.child = spawnGit(["--git-dir", gitDir, "cat-file", ...how], run, "pipe");
    this.idle = watchdog(this.child, this.seconds);
    this.child.stdout?.on("data", (chunk: Buffer) => this.onData(chunk));
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-4096);
    });
    this.child.stdin?.on("error", () => {});
    this.child.on("error", (err) => this.fail(new GitError(`git cat-file: ${err.message}`, "transient")));
    this.child.on("close", (code, sig) => {
      this.idle.disarm();
      if (this.idle.fired)
        return this.fail(new GitError(idleMessage("git cat-file", this.seconds), "transient"));
      if (this.queue.length === 0 && !this.body) return;
      if (this.mode === "command" && code === 129 && !this.answered)
        return this.fail(new BatchCommandUnsupported(this.stderr.trim()));
      const how = sig ? `was killed (${sig})` : `exited ${code}`;
      this.fail(new GitError(`git cat-file ${how}: ${this.stderr.trim()}`, "transient", this.stderr));
    });
  }

  request(pending: Pending): void {
    if (this.failed || this.closing) {
      pending.fail(this.failed ?? new Error("cat-file closed"));
      return;
    }
    this.queue.push(pending);
    this.idle.arm();
    if (this.mode !== "command") {
      this.child.stdin?.write(`${pending.oid}\n`);
      return;
    }
    this.child.stdin?.write(`${pending.info ? "info" : "contents"} ${pending.oid}\n`);
    // Buffered: git answers at a flush. Requests made in one go (a tree's subtrees, all of a tree's
    // blobs) share one flush, so git writes them out in large pieces, not one write per object.
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => {
        this.flushing = false;
        if (!this.failed && !this.closing) this.child.stdin?.write("flush\n");
      });
    }
  }

  /** The object's type, or undefined when absent; its content is not read ("command" mode only). */
  info(oid: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.request({
        oid,
        info: true,
        missing: () => resolve(undefined),
        fail: reject,
        start: (type) => {
          resolve(type);
          return { data: () => {}, end: () => {} };
        },
      });
    });
  }

  /** No more requests: a buffered cat-file then writes out everything and exits. */
  private endInput(): void {
    this.closing = true;
    this.child.stdin?.end();
  }

  /** The object's type and whole content, or undefined when absent; larger than `max` is an error. */
  read(oid: string, max: number): Promise<{ type: string; data: Buffer } | undefined> {
    return new Promise((resolve, reject) => {
      this.request({
        oid,
        missing: () => resolve(undefined),
        fail: reject,
        start: (type, size) => {
          const parts: Buffer[] = [];
          const tooBig = size > max;
          return {
            data: (chunk) => {
              if (!tooBig) parts.push(chunk);
            },
            end: () =>
              tooBig
                ? reject(new TreeError(`object ${oid} (${type}) is ${size} bytes, more than ${max} allowed`))
                : resolve({ type, data: Buffer.concat(parts, size) }),
          };
        },
      });
    });
  }

  /** Each sink's blob into its file, pipelined; the first failure rejects (and later bytes are dropped). */
  stream(sinks: BlobSink[]): Promise<void> {
    if (sinks.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let left = sinks.length;
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        reject(err);
      };
      for (const sink of sinks) {
        let fd: number | undefined;
        this.request({
          oid: sink.oid,
          missing: () => fail(new TreeError(`blob ${sink.oid} is not among the fetched objects`)),
          fail: (err) => {
            // git died mid-blob: the file it was writing is abandoned with the rest of the tree.
            if (fd !== undefined) closeSync(fd);
            fd = undefined;
            fail(err);
          },
          start: (type) => {
            if (failed || type !== "blob") {
              if (type !== "blob") fail(new TreeError(`${sink.oid} is a ${type}, not a blob`));
              return { data: () => {}, end: () => {} };
            }
            try {
              fd = sink.open();
            } catch (err) {
              fail(err);
            }
            return {
              data: (chunk) => {
                if (fd === undefined || failed) return;
                try {
                  // Synchronous: the pipe is not read again until the chunk is on disk, so git is held
                  // back instead of its output piling up here.
                  for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
                } catch (err) {
                  fail(err);
                }
              },
              end: () => {
                if (fd !== undefined) {
                  const done = fd;
                  fd = undefined;
                  try {
                    sink.close(done);
                  } catch (err) {
                    fail(err);
                  }
                }
                if (--left === 0 && !failed) resolve();
              },
            };
          },
        });
      }
      if (this.buffered) this.endInput();
    });
  }

  /** Ends git (killed if an answer is still due: it may be mid-object) and resolves once it is gone. */
  close(): Promise<void> {
    this.closing = true;
    this.idle.disarm();
    const gone = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve();
      else this.child.once("close", () => resolve());
    });
    this.child.stdin?.end();
    if (this.queue.length > 0 || this.body) killGroup(this.child.pid);
    return gone;
  }

  private fail(err: Error): void {
    this.failed ??= err;
    const current = this.body?.pending;
    this.body = undefined;
    for (const p of [...(current ? [current] : []), ...this.queue.splice(0)]) p.fail(this.failed);
    killGroup(this.child.pid);
  }

  private onData(chunk: Buffer): void {
    this.idle.arm();
    let at = 0;
    while (at < chunk.length && !this.failed) {
      if (this.body) {
        const take = Math.min(this.body.remaining, chunk.length - at);
        // The body is followed by one LF, not part of the object.
        const content = Math.min(take, this.body.remaining - 1);
        if (content > 0) this.body.sink.data(chunk.subarray(at, at + content));
        this.body.remaining -= take;
        at += take;
        if (this.body.remaining === 0) {
          const { sink } = this.body;
          this.body = undefined;
          sink.end();
        }
        continue;
      }
      const eol = chunk.indexOf(0x0a, at);
      if (eol < 0) {
        this.header = Buffer.concat([this.header, chunk.subarray(at)]);
        if (this.header.length > 1024) this.fail(new GitError("git cat-file: malformed answer", "transient"));
        return;
      }
      const line =
        this.header.length > 0
          ? Buffer.concat([this.header, chunk.subarray(at, eol)]).toString("utf8")
          : chunk.toString("utf8", at, eol);
      if (this.header.length > 0) this.header = Buffer.alloc(0);
      at = eol + 1;
      const pending = this.queue.shift();
      if (!pending) {
        this.fail(new GitError(`git cat-file: unexpected answer ${line}`, "transient"));
        return;
      }
      const [oid = "", type = "", sizeText] = line.split(" ");
      if (sizeText === undefined) {
        this.answered = true;
        if (type === "missing") {
          pending.missing();
          continue;
        }
        this.fail(new GitError(`git cat-file: unexpected answer for ${oid} (${type})`, "transient"));
        return;
      }
      this.answered = true;
      const size = Number(sizeText);
      const sink = pending.start(type, size);
      if (pending.info) sink.end();
      else this.body = { remaining: size + 1, pending, sink };
    }
    if (this.queue.length === 0 && !this.body) this.idle.disarm();
  }
}

/** `git cat-file --batch-command` is unknown to this git (before 2.36). */
class BatchCommandUnsupported extends Error {}

/** The PATHs (so: the gits) found to have no --batch-command, learned at the first entry they read. */
const withoutBatchCommand = new Set<string>();

/** Object ids and types of many objects at once (`cat-file --batch-check`): no content is read. */
async function objectTypes(gitDir: string, oids: string[], run: GitRun): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  const unique = [...new Set(oids)];
  if (unique.length === 0) return types;
  const { stdout } = await git(
    ["--git-dir", gitDir, "cat-file", "--batch-check=%(objectname) %(objecttype)"],
    run,
    `${unique.join("\n")}\n`,
  );
  for (const line of stdout.toString("utf8").split("\n")) {
    const [oid, type] = line.split(" ");
    if (oid && type && type !== "missing") types.set(oid, type);
  }
  return types;
}

type WalkItem = { problem: string } | { file: TreeEntry };

/**
 * Reads the pinned commit's tree, and only that: the commit, its trees, its symlink targets and every
 * other blob's type (not its content) through one `cat-file --batch-command`, which writeBlobs then uses
 * to stream the blobs. A git before 2.36 has no --batch-command: there a `cat-file --batch` walks, a
 * `--batch-check` gives the types and a buffered `--batch` streams, one after another. Either way one
 * git process at a time. After a fallback fetch the repository holds whole branch histories: none of that
 * is read. Trees are walked here, from raw bytes, not checked out: no eol conversion, smudge filter or
 * user config can change what is staged, which keeps the tree byte-identical everywhere.
 */
export async function readCommit(gitDir: string, sha: string, run: GitRun): Promise<CommitContents> {
  const which = run.env.PATH ?? "";
  if (!withoutBatchCommand.has(which)) {
    try {
      return await readPinnedTree(gitDir, sha, run, true);
    } catch (err) {
      if (!(err instanceof BatchCommandUnsupported)) throw err;
      withoutBatchCommand.add(which);
    }
  }
  return readPinnedTree(gitDir, sha, run, false);
}

async function readPinnedTree(
  gitDir: string,
  sha: string,
  run: GitRun,
  single: boolean,
): Promise<CommitContents> {
  const notFetched = (path: string, type: string, oid: string) =>
    `${path}: ${type} ${oid} is not among the fetched objects`;
  const wrongType = (path: string, type: string, oid: string, found: string) =>
    `${path}: the tree says ${type}, but ${oid} is a ${found}, not a ${type}`;

  const trees = new CatFile(gitDir, run, single ? "command" : "batch");
  const links = new Map<string, string>();
  let time: number;
  let items: WalkItem[];
  try {
    const commitObject = await trees.read(sha, MAX_METADATA_BYTES);
    if (commitObject?.type !== "commit")
      throw new GitError(`object ${sha} (commit) missing after fetch`, "transient");
    const commit = commitObject.data.toString("utf8");
    time = Number(/^committer .* (\d+) [+-]\d{4}$/m.exec(commit)?.[1]);
    const root = /^tree ([0-9a-f]{40})$/m.exec(commit)?.[1];
    if (!Number.isFinite(time) || !root)
      throw new GitError(`commit ${sha}: malformed commit object`, "transient");

    const symlink = async (file: TreeEntry): Promise<WalkItem[]> => {
      let found: { type: string; data: Buffer } | undefined;
      try {
        found = await trees.read(file.oid, MAX_LINK_BYTES);
      } catch (err) {
        if (!(err instanceof TreeError)) throw err;
        return [{ file }, { problem: `${file.path}: symlink target longer than ${MAX_LINK_BYTES} bytes` }];
      }
      if (found?.type !== "blob")
        return [
          { file },
          {
            problem: found
              ? wrongType(file.path, "blob", file.oid, found.type)
              : notFetched(file.path, "blob", file.oid),
          },
        ];
      links.set(file.path, found.data.toString("utf8"));
      return [{ file }];
    };

    const checkBlob = async (file: TreeEntry): Promise<WalkItem[]> => {
      const type = await trees.info(file.oid);
      if (type === "blob") return [{ file }];
      const problem = type
        ? wrongType(file.path, "blob", file.oid, type)
        : notFetched(file.path, "blob", file.oid);
      return [{ file }, { problem }];
    };

    // What is wrong with the tree itself, path by path, in tree order: a crafted tree is permanent, never a
    // fetch problem. Subtrees are asked for together (pipelined), then assembled in order.
    const walk = async (treeOid: string, prefix: string): Promise<WalkItem[]> => {
      const label = prefix ? prefix.slice(0, -1) : "(root tree)";
      const found = await trees.read(treeOid, MAX_METADATA_BYTES);
      if (found?.type !== "tree")
        return [
          {
            problem: found
              ? wrongType(label, "tree", treeOid, found.type)
              : notFetched(label, "tree", treeOid),
          },
        ];
      // Tree object: repeated "<octal mode> <name>\0<20-byte binary oid>".
      const tree = found.data;
      const names = new Set<string>();
      const parts: Array<WalkItem | Promise<WalkItem[]>> = [];
      let at = 0;
      while (at < tree.length) {
        const space = tree.indexOf(0x20, at);
        const nul = tree.indexOf(0, space);
        const mode = tree.subarray(at, space).toString("latin1");
        const name = tree.subarray(space + 1, nul).toString("utf8");
        const path = prefix + name;
        const oid = tree.subarray(nul + 1, nul + 21).toString("hex");
        at = nul + 21;
        // Git never writes these; a tree that has them was made by hand to escape the entry or to collide.
        if (name === "" || name === "." || name === ".." || name.includes("/")) {
          const why = name.includes("/") ? "contains '/'" : "is not a file name";
          parts.push({ problem: `${path || "(empty name)"}: tree entry name '${name}' ${why}` });
          continue;
        }
        if (names.has(name)) parts.push({ problem: `${path}: appears twice in one tree` });
        names.add(name);
        if (mode === "40000") {
          parts.push(walk(oid, `${path}/`));
        } else if (mode === "160000") {
          parts.push({ file: { mode, type: "commit", oid, path } });
        } else if (mode === "120000") {
          // A symlink's target is its blob, read now (small: at most what the kernel stores).
          parts.push(symlink({ mode, type: "blob", oid, path }));
        } else if (mode === "100644" || mode === "100755" || mode === "100664") {
          // 100664: what very old git wrote for a plain file; git reads it as 100644.
          const file: TreeEntry = { mode: mode === "100664" ? "100644" : mode, type: "blob", oid, path };
          // Its type, asked now, in the same round trip as the subtrees (without --batch-command: all at
          // once after the walk).
          parts.push(single ? checkBlob(file) : { file });
        } else {
          parts.push({
            problem: `${path}: unsupported mode ${mode} (git writes 100644, 100755, 120000, 160000 or 40000)`,
          });
        }
      }
      return (await Promise.all(parts.map((p) => (p instanceof Promise ? p : [p])))).flat();
    };
    items = await walk(root, "");
  } catch (err) {
    await trees.close();
    throw err;
  }

  // Without --batch-command, the regular blobs' types come from a --batch-check, once the walk is done.
  const unchecked = single
    ? []
    : items.flatMap((i) =>
        "file" in i && i.file.type === "blob" && i.file.mode !== "120000" ? [i.file] : [],
      );
  let types = new Map<string, string>();
  if (!single) {
    await trees.close();
    types = await objectTypes(
      gitDir,
      unchecked.map((f) => f.oid),
      run,
    );
  }
  const checked = new Set(unchecked);
  const problems: string[] = [];
  const files: TreeEntry[] = [];
  for (const item of items) {
    if ("problem" in item) {
      problems.push(item.problem);
      continue;
    }
    const f = item.file;
    files.push(f);
    if (!checked.has(f)) continue;
    const type = types.get(f.oid);
    if (type !== "blob")
      problems.push(type ? wrongType(f.path, "blob", f.oid, type) : notFetched(f.path, "blob", f.oid));
  }
  if (problems.length > 0) {
    await trees.close();
    throw new TreeError(`malformed tree at ${sha}: ${problems.join("; ")}`);
  }

  // The blobs' contents: through the same process (--batch-command), or a cat-file started for just that
  // with all requests written at once.
  let cat: CatFile | undefined = single ? trees : undefined;
  let streamed = false;
  const writeBlobs = (sinks: BlobSink[]) => {
    if (streamed) return Promise.reject(new Error("writeBlobs: called twice"));
    streamed = true;
    if (sinks.length === 0) return Promise.resolve();
    cat ??= new CatFile(gitDir, run, "buffered");
    return cat.stream(sinks);
  };
  const close = async () => {
    await cat?.close();
  };
  return { time, files, links, writeBlobs, close };
}
