// Drives the real stager CLI (`tsx cli/stage.ts`) as a child process, and inspects what it left on
// disk and which git processes it ran. Shared by the stage*.test.ts files.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { gitEnv } from "./git-fixtures";

export const PROJECT = path.resolve(__dirname, "..", "..");
/** The tsx binary itself, not npx/npm: those swallow signals and would hide the stager's pid. */
export const TSX = path.join(PROJECT, "node_modules", ".bin", "tsx");
export const STAGE_SCRIPT = "cli/stage.ts";
export const REAL_GIT = "/usr/bin/git";

export const LIST_DIRS = {
  workspace_templates: "workspace-configs-templates",
  org_templates: "org-templates",
  plugins: "plugins",
} as const;
export type List = keyof typeof LIST_DIRS;

export interface OutputEntry {
  list: List;
  name: string;
  ref: string | null;
  digest: string | null;
  action: "fetched" | "unchanged" | "removed" | "failed";
  /** For `failed` only. */
  error?: string;
}

export interface StageOutput {
  digest: string;
  entries: OutputEntry[];
  skipped: Array<{ list: List; name: string; ref: string; reason: string }>;
}

export interface StageRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface StageOptions {
  /** Variables on top of a clean environment; undefined removes one. */
  env?: Record<string, string | undefined>;
  /** Directory put first on PATH (the git wrapper). */
  pathPrefix?: string;
  /** Run under this umask (via `sh -c 'umask ...; exec ...'`). */
  umask?: string;
  /** Working directory of the stager (default: the project), e.g. to pass `--dest .`. */
  cwd?: string;
  /**
   * A command the stager runs under: `[...wrap, tsx, cli/stage.ts, ...args]` is executed, so the
   * wrapper must end by running its arguments (`setpriv ...`, `unshare ... sh -c '...; exec "$@"'`).
   */
  wrap?: string[];
}

export interface StageProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<StageRun>;
}

const live = new Set<ChildProcess>();

/**
 * The stager's environment is built from nothing (like the fixtures' git): a developer's
 * ~/.gitconfig, an exported MOLECULE_GITEA_TOKEN or GIT_DIR from a hook must not change a test.
 */
function stageEnv(opts: StageOptions): NodeJS.ProcessEnv {
  const base = gitEnv(opts.env);
  if (opts.pathPrefix) base.PATH = `${opts.pathPrefix}:${base.PATH ?? ""}`;
  return base;
}

export function startStage(args: string[], opts: StageOptions = {}): StageProcess {
  const env = stageEnv(opts);
  const cwd = opts.cwd ?? PROJECT;
  const script = opts.cwd ? path.join(PROJECT, STAGE_SCRIPT) : STAGE_SCRIPT;
  let argv = [TSX, script, ...args];
  if (opts.umask) argv = ["sh", "-c", `umask ${opts.umask}; exec "$0" "$@"`, ...argv];
  if (opts.wrap) argv = [...opts.wrap, ...argv];
  const [command = TSX, ...rest] = argv;
  const child = spawn(command, rest, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString("utf8");
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const done = new Promise<StageRun>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

export function runStage(args: string[], opts: StageOptions = {}): Promise<StageRun> {
  return startStage(args, opts).done;
}

/** Parses stdout as the single JSON document the contract promises; fails with stderr as context. */
export function outputOf(run: StageRun): StageOutput {
  if (run.code !== 0) throw new Error(`stager exited ${run.code}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as StageOutput;
}

/** What a failed run (exit 1) prints: the same document, with no overall digest. */
export type FailedStageOutput = Omit<StageOutput, "digest"> & { digest: null };

/** Parses stdout of a run that must have failed (exit 1) as the document it still promises. */
export function failedOutputOf(run: StageRun): FailedStageOutput {
  if (run.code !== 1) throw new Error(`stager exited ${run.code}, not 1:\n${run.stderr}`);
  return JSON.parse(run.stdout) as FailedStageOutput;
}

/** Kills whatever a test left running (its own children only, by pid), including the tsx child. */
export async function killLiveStages(): Promise<void> {
  for (const child of [...live]) {
    if (child.pid) for (const pid of await descendants(child.pid)) signal(pid, "SIGKILL");
    if (child.pid) signal(child.pid, "SIGKILL");
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("close", () => resolve());
    });
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

// ---------------------------------------------------------------------------------------------
// Processes (Linux /proc): tsx runs the stager in a child node process, so "the stager's pid" is
// a grandchild of the test; git processes it started outlive a SIGKILL as orphans.

interface ProcInfo {
  pid: number;
  ppid: number;
  cmdline: string[];
}

export async function processes(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may contain spaces: ppid is the 2nd field after ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8")).split("\0").filter(Boolean);
      // Zombies have an empty cmdline: they are dead already.
      if (cmdline.length > 0) out.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

export async function descendants(pid: number): Promise<number[]> {
  const all = await processes();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const p of all) {
      if (p.ppid === parent) {
        found.push(p.pid);
        queue.push(p.pid);
      }
    }
  }
  return found;
}

/** The node process that actually runs cli/stage.ts under tsx (tsx's own process only relays). */
export async function stagerPid(tsxPid: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await processes();
    const stager = all.find(
      (p) => p.ppid === tsxPid && p.cmdline.some((a) => a.includes("loader.mjs")) && isStager(p),
    );
    if (stager) return stager.pid;
    if (Date.now() > deadline) throw new Error(`no stager process under tsx pid ${tsxPid}`);
    await sleep(5);
  }
}

function isStager(p: ProcInfo): boolean {
  return p.cmdline.some((a) => a === STAGE_SCRIPT || a.endsWith(`/${STAGE_SCRIPT}`));
}

/** Live processes whose argv mentions `needle` (e.g. a test's unique dest dir), split by kind. */
export async function processesMentioning(needle: string): Promise<{ stagers: number[]; others: number[] }> {
  const stagers: number[] = [];
  const others: number[] = [];
  for (const p of await processes()) {
    if (p.pid === process.pid || !p.cmdline.some((a) => a.includes(needle))) continue;
    (isStager(p) ? stagers : others).push(p.pid);
  }
  return { stagers, others };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for condition");
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------------------------
// A git wrapper first on PATH: the stager runs git by name, so this sees every git process it
// starts (git's own sub-processes use git's exec path and are not logged, which is what we want).

export interface GitCall {
  id: string;
  argv: string[];
  startMs: number;
  /** Undefined while running (or if the wrapper was killed). */
  endMs?: number;
  rc?: number;
  /** The environment git was started with. */
  env: Record<string, string>;
}

export interface GitWrapper {
  /** Put this first on PATH. */
  binDir: string;
  calls(): Promise<GitCall[]>;
  /** Contents of every `<git-dir>/config` right after each git command that used --git-dir. */
  configs(): Promise<string>;
  clear(): Promise<void>;
}

export async function createGitWrapper(dir: string): Promise<GitWrapper> {
  const binDir = path.join(dir, "bin");
  const envDir = path.join(dir, "env");
  const log = path.join(dir, "git.log");
  const configs = path.join(dir, "configs.log");
  await mkdir(binDir, { recursive: true });
  await mkdir(envDir, { recursive: true });
  // One printf per log line: each is a single short O_APPEND write, so concurrent gits do not
  // interleave within a line. Arguments are tab-separated (none of the stager's contain tabs).
  const script = `#!/bin/sh
start=$(date +%s%N)
id="$start-$$"
cat /proc/$$/environ > '${envDir}'/"$id"
args=""
for a in "$@"; do args="$args	$a"; done
printf 'S\\t%s\\t%s%s\\n' "$id" "$start" "$args" >> '${log}'
${REAL_GIT} "$@"
rc=$?
if [ "$1" = "--git-dir" ] && [ -f "$2/config" ]; then cat "$2/config" >> '${configs}'; fi
printf 'E\\t%s\\t%s\\t%s\\n' "$id" "$(date +%s%N)" "$rc" >> '${log}'
exit $rc
`;
  const wrapper = path.join(binDir, "git");
  await writeFile(wrapper, script);
  await chmod(wrapper, 0o755);
  await writeFile(log, "");
  await writeFile(configs, "");

  return {
    binDir,
    async calls() {
      const byId = new Map<string, GitCall>();
      for (const line of (await readFile(log, "utf8")).split("\n")) {
        const [kind, id, time, ...rest] = line.split("\t");
        if (!id || !time) continue;
        if (kind === "S") {
          const environ = await readFile(path.join(envDir, id), "utf8").catch(() => "");
          const env: Record<string, string> = {};
          for (const pair of environ.split("\0")) {
            const eq = pair.indexOf("=");
            if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
          }
          byId.set(id, { id, argv: rest, startMs: Number(BigInt(time) / 1000n) / 1000, env });
        } else if (kind === "E") {
          const call = byId.get(id);
          if (call) {
            call.endMs = Number(BigInt(time) / 1000n) / 1000;
            call.rc = Number(rest[0]);
          }
        }
      }
      return [...byId.values()];
    },
    configs: () => readFile(configs, "utf8"),
    async clear() {
      await writeFile(log, "");
      await writeFile(configs, "");
    },
  };
}

/** Most git processes alive at the same moment, from the wrapper's start/end times. */
export function maxOverlap(calls: GitCall[]): number {
  const events: Array<[number, number]> = [];
  for (const c of calls) {
    events.push([c.startMs, 1]);
    events.push([c.endMs ?? Number.POSITIVE_INFINITY, -1]);
  }
  // At equal times, count ends first: touching intervals do not overlap.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, delta] of events) {
    now += delta;
    max = Math.max(max, now);
  }
  return max;
}

// ---------------------------------------------------------------------------------------------
// Manifests and trees.

export interface EntrySpec {
  name: string;
  repo: string;
  ref: string;
  private?: boolean;
  provider?: "github";
}

export type ManifestSpec = Partial<Record<List, EntrySpec[]>>;

export async function writeManifest(file: string, spec: ManifestSpec): Promise<string> {
  const doc = {
    _comment: "written by a test",
    version: 1,
    plugins: spec.plugins ?? [],
    workspace_templates: spec.workspace_templates ?? [],
    org_templates: spec.org_templates ?? [],
  };
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

export function entryDir(dest: string, list: List, name: string): string {
  return path.join(dest, LIST_DIRS[list], name);
}

/**
 * An independent description of a tree on disk (not the stager's own hash): one line per path
 * with its type, permission bits and content hash or link target. Equal snapshots mean equal trees.
 */
export async function snapshot(root: string): Promise<string[]> {
  const lines: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(path.join(root, rel))).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const abs = path.join(root, p);
      const st = await lstat(abs);
      const perm = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) lines.push(`l ${perm} ${p} -> ${await readlink(abs)}`);
      else if (st.isDirectory()) {
        lines.push(`d ${perm} ${p}/`);
        await walk(p);
      } else if (st.isFile()) {
        lines.push(
          `f ${perm} ${p} ${createHash("sha256")
            .update(await readFile(abs))
            .digest("hex")}`,
        );
      } else lines.push(`? ${perm} ${p}`);
    }
  }
  await walk("");
  return lines;
}

/**
 * Everything about a tree that a write could change, root included: per path its type, permission bits,
 * owner, content hash or link target and, with `times`, mtime and ctime in nanoseconds (ctime moves on
 * any chmod, chown, rename or write, even by root, which permission bits do not stop).
 */
export async function listing(root: string, opts: { times?: boolean } = {}): Promise<string[]> {
  const lines: string[] = [];
  async function visit(rel: string): Promise<void> {
    const abs = rel ? path.join(root, rel) : root;
    const st = await lstat(abs, { bigint: true });
    const perm = (st.mode & 0o7777n).toString(8);
    const times = opts.times ? ` mtime=${st.mtimeNs} ctime=${st.ctimeNs}` : "";
    const head = `${perm} ${st.uid}:${st.gid} ${rel || "."}${times}`;
    if (st.isSymbolicLink()) lines.push(`l ${head} -> ${await readlink(abs)}`);
    else if (st.isFile()) {
      lines.push(
        `f ${head} ${createHash("sha256")
          .update(await readFile(abs))
          .digest("hex")}`,
      );
    } else if (st.isDirectory()) {
      lines.push(`d ${head}`);
      for (const name of (await readdir(abs)).sort()) await visit(rel ? `${rel}/${name}` : name);
    } else lines.push(`? ${head}`);
  }
  await visit("");
  return lines;
}

/** Every path (relative) under root, directories included, without following symlinks. */
export async function allPaths(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const name of await readdir(path.join(root, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      out.push(p);
      if ((await lstat(path.join(root, p))).isDirectory()) await walk(p);
    }
  }
  await walk("");
  return out.sort();
}

export interface CommitFile {
  /** "100644", "100755" or "120000". */
  mode: string;
  content: Buffer;
}

/** The commit's files as git stores them, read straight from the fixture repo. */
export function commitFiles(repoDir: string, sha: string): Map<string, CommitFile> {
  const git = (...args: string[]) =>
    execFileSync(REAL_GIT, ["--git-dir", repoDir, ...args], { env: gitEnv(), maxBuffer: 64 << 20 });
  const files = new Map<string, CommitFile>();
  for (const record of git("ls-tree", "-r", "-z", "--full-tree", sha).toString("utf8").split("\0")) {
    if (!record) continue;
    const tab = record.indexOf("\t");
    const [mode = "", , oid = ""] = record.slice(0, tab).split(" ");
    files.set(record.slice(tab + 1), { mode, content: git("cat-file", "blob", oid) });
  }
  return files;
}

/**
 * Asserts the staged directory is exactly the commit: same paths, byte-equal contents, symlinks
 * as symlinks with the same target, 0644/0755 files by git mode, 0755 directories. Returns the
 * problems (empty when equal) so the caller's expect() shows them all.
 */
export async function diffAgainstCommit(dir: string, repoDir: string, sha: string): Promise<string[]> {
  const want = commitFiles(repoDir, sha);
  const problems: string[] = [];
  const wantDirs = new Set<string>();
  for (const p of want.keys()) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) wantDirs.add(parts.slice(0, i).join("/"));
  }
  const rootMode = (await lstat(dir)).mode & 0o7777;
  if (rootMode !== 0o755) problems.push(`. has mode ${rootMode.toString(8)}, want 755`);
  for (const p of await allPaths(dir)) {
    const abs = path.join(dir, p);
    const st = await lstat(abs);
    const perm = st.mode & 0o7777;
    const file = want.get(p);
    if (st.isDirectory()) {
      if (!wantDirs.has(p)) problems.push(`${p}/: not in the commit`);
      else if (perm !== 0o755) problems.push(`${p}/: mode ${perm.toString(8)}, want 755`);
      wantDirs.delete(p);
      continue;
    }
    if (!file) {
      problems.push(`${p}: not in the commit`);
      continue;
    }
    want.delete(p);
    if (file.mode === "120000") {
      if (!st.isSymbolicLink()) problems.push(`${p}: not a symlink`);
      else if ((await readlink(abs)) !== file.content.toString("utf8"))
        problems.push(`${p}: symlink -> ${await readlink(abs)}, want -> ${file.content.toString("utf8")}`);
      continue;
    }
    if (!st.isFile()) {
      problems.push(`${p}: not a regular file`);
      continue;
    }
    const wantPerm = file.mode === "100755" ? 0o755 : 0o644;
    if (perm !== wantPerm) problems.push(`${p}: mode ${perm.toString(8)}, want ${wantPerm.toString(8)}`);
    if (!(await readFile(abs)).equals(file.content)) problems.push(`${p}: content differs from the blob`);
  }
  for (const p of want.keys()) problems.push(`${p}: missing`);
  for (const p of wantDirs) problems.push(`${p}/: missing`);
  return problems;
}

/** Leftovers of an interrupted swap or build, at the top of each list directory. */
export async function leftovers(dest: string): Promise<string[]> {
  const out: string[] = [];
  for (const dir of Object.values(LIST_DIRS)) {
    for (const name of await readdir(path.join(dest, dir)).catch(() => [] as string[])) {
      if (name.startsWith(".")) out.push(`${dir}/${name}`);
    }
  }
  return out;
}
