/**
 * Git I/O for the stager: fetch one pinned commit into a private bare repository and read its tree as
 * raw blobs. Nothing here knows about manifests or staging layout.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
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
}

// Variables that would make git print secrets (curl traces) or act on a repository other than ours, and
// the raw token itself: git gets it only as the header, and no child needs the variable.
const SCRUBBED_ENV =
  /^(MOLECULE_GITEA_TOKEN|GIT_TRACE.*|GIT_CURL_VERBOSE|GIT_TRACE_REDACT|GIT_DIR|GIT_WORK_TREE|GIT_INDEX_FILE|GIT_OBJECT_DIRECTORY|GIT_ALTERNATE_OBJECT_DIRECTORIES|GIT_NAMESPACE|GIT_CEILING_DIRECTORIES)$/;

/**
 * The environment every git child gets. The token travels as an `http.<url>.extraHeader` set through
 * GIT_CONFIG_COUNT/KEY/VALUE: it is then in no argv, no URL and no .git/config.
 */
export function gitEnv(
  base: NodeJS.ProcessEnv,
  auth?: GitAuth,
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
  const origin = tokenOrigin(auth);
  if (auth && origin) {
    // Scoped to the host (origin) the token belongs to, so it also covers a same-host redirect's new path.
    const basic = Buffer.from(`oauth2:${auth.token}`).toString("base64");
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

/** The origin (scheme://host[:port]) a token belongs to, for http(s) base URLs only. */
function tokenOrigin(auth: GitAuth | undefined): string | undefined {
  return auth && /^https?:\/\//i.test(auth.baseUrl) ? new URL(auth.baseUrl).origin : undefined;
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
  /** The origin the token is sent to: fetches from it never follow a redirect (see noRedirectArgs). */
  tokenOrigin?: string;
  signal?: AbortSignal;
}

/** The GitRun for a stage: git's environment, the token's origin, the bounds. */
export function gitRun(opts: {
  base: NodeJS.ProcessEnv;
  auth?: GitAuth;
  inactivityS?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}): GitRun {
  const inactivityS = opts.inactivityS ?? DEFAULT_INACTIVITY_S;
  return {
    env: gitEnv(opts.base, opts.auth, inactivityS),
    timeoutMs: opts.timeoutMs ?? 600_000,
    inactivityS,
    tokenOrigin: tokenOrigin(opts.auth),
    signal: opts.signal,
  };
}

/**
 * `-c http.<url>/.followRedirects=false` for a fetch from the token's origin. git picks an http.<url>.*
 * setting by how specific its URL is (host, then path length, then user), and a command-line `-c` comes
 * after every config file and GIT_CONFIG_PARAMETERS it inherits: the exact URL git matches (with the
 * trailing slash git adds, the user but never the password) cannot be outranked, so no configuration
 * can make git carry the token's header to wherever a redirect points.
 */
export function noRedirectArgs(url: string, run: GitRun): string[] {
  if (!run.tokenOrigin || !/^https?:\/\//i.test(url)) return [];
  const u = new URL(url);
  if (u.origin !== run.tokenOrigin) return [];
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

export interface CommitContents {
  /** Committer time (seconds): the staged files' mtime, so it is the same on every machine. */
  time: number;
  files: TreeEntry[];
  blobs: Map<string, Buffer>;
}

/** Splits `cat-file --batch` output into objects. */
function parseBatch(out: Buffer): Map<string, { type: string; data: Buffer }> {
  const objects = new Map<string, { type: string; data: Buffer }>();
  let at = 0;
  while (at < out.length) {
    const eol = out.indexOf(0x0a, at);
    const [oid = "", type = "", size] = out.subarray(at, eol).toString("utf8").split(" ");
    if (size === undefined)
      throw new GitError(`cat-file: unexpected answer for ${oid} (${type})`, "transient");
    const start = eol + 1;
    objects.set(oid, { type, data: out.subarray(start, start + Number(size)) });
    at = start + Number(size) + 1;
  }
  return objects;
}

/**
 * Reads the pinned commit's whole tree as raw bytes with one `cat-file --batch-all-objects` (after a
 * depth-1 fetch the repository holds exactly that commit's objects) and walks its trees here. Raw bytes,
 * not a checkout: no eol conversion, smudge filter or user config can change what is staged, which keeps
 * the tree byte-identical everywhere; and one git process instead of an ls-tree plus a cat-file.
 */
export async function readCommit(gitDir: string, sha: string, run: GitRun): Promise<CommitContents> {
  const { stdout } = await git(
    ["--git-dir", gitDir, "cat-file", "--batch-all-objects", "--batch", "--unordered"],
    run,
  );
  const objects = parseBatch(stdout);
  const commitObject = objects.get(sha);
  if (commitObject?.type !== "commit")
    throw new GitError(`object ${sha} (commit) missing after fetch`, "transient");
  const commit = commitObject.data.toString("utf8");
  const time = Number(/^committer .* (\d+) [+-]\d{4}$/m.exec(commit)?.[1]);
  const root = /^tree ([0-9a-f]{40})$/m.exec(commit)?.[1];
  if (!Number.isFinite(time) || !root)
    throw new GitError(`commit ${sha}: malformed commit object`, "transient");

  // What is wrong with the tree itself, path by path: a crafted tree is permanent, never a fetch problem.
  const problems: string[] = [];
  const object = (oid: string, type: string, path: string): Buffer | undefined => {
    const found = objects.get(oid);
    if (found?.type === type) return found.data;
    problems.push(
      found
        ? `${path}: the tree says ${type}, but ${oid} is a ${found.type}, not a ${type}`
        : `${path}: ${type} ${oid} is not among the fetched objects`,
    );
    return undefined;
  };
  const files: TreeEntry[] = [];
  const blobs = new Map<string, Buffer>();
  const walk = (treeOid: string, prefix: string): void => {
    // Tree object: repeated "<octal mode> <name>\0<20-byte binary oid>".
    const tree = object(treeOid, "tree", prefix ? prefix.slice(0, -1) : "(root tree)");
    if (!tree) return;
    const names = new Set<string>();
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
        problems.push(`${path || "(empty name)"}: tree entry name '${name}' ${why}`);
        continue;
      }
      if (names.has(name)) problems.push(`${path}: appears twice in one tree`);
      names.add(name);
      if (mode === "40000") {
        walk(oid, `${path}/`);
      } else if (mode === "160000") {
        files.push({ mode, type: "commit", oid, path });
      } else if (mode === "100644" || mode === "100755" || mode === "120000" || mode === "100664") {
        // 100664: what very old git wrote for a plain file; git reads it as 100644.
        files.push({ mode: mode === "100664" ? "100644" : mode, type: "blob", oid, path });
        const blob = object(oid, "blob", path);
        if (blob) blobs.set(oid, blob);
      } else {
        problems.push(
          `${path}: unsupported mode ${mode} (git writes 100644, 100755, 120000, 160000 or 40000)`,
        );
      }
    }
  };
  walk(root, "");
  if (problems.length > 0) throw new TreeError(`malformed tree at ${sha}: ${problems.join("; ")}`);
  return { time, files, blobs };
}
