// Deterministic, real git repositories for tests and benchmarks.
//
// Repos are written with one `git fast-import` process each: building history through
// `git commit` costs a few processes per commit, which makes a 5,000-commit repo take minutes.
// Author, committer, dates and object format are fixed, so every SHA is identical on every
// machine and run (the self-test pins one literally).

import { spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export const FIXTURE_IDENT = "Fixture <fixture@example.invalid>";
/** Commit i is dated BASE_EPOCH + i * 60, +0000. */
export const BASE_EPOCH = 1_700_000_000;

export type FileSpec =
  | string
  | Buffer
  | { content: string | Buffer; mode?: "644" | "755" }
  | { symlink: string };

export interface CommitSpec {
  /** Defaults to "commit <i>". A trailing newline is added if missing, as `git commit` would. */
  message?: string;
  /** Added or replaced on top of the previous commit's tree. */
  files?: Record<string, FileSpec>;
  /** Removed before `files` is applied, so a file can be replaced by a directory of the same name. */
  delete?: string[];
}

export interface RepoFixture {
  /** `<root>/<owner>/<name>.git`, a bare repository. */
  dir: string;
  /** Commit SHAs in the order of the specs; the last one is the branch head. */
  shas: string[];
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: GitResult,
  ) {
    super(`git ${args.join(" ")} exited ${result.code}: ${result.stderr.trim()}`);
    this.name = "GitError";
  }
}

/**
 * The environment every git process here runs with. It is built from nothing rather than
 * filtered from process.env: a developer's ~/.gitconfig, GIT_DIR/GIT_* from a hook, LANG (the
 * tests match English messages) or http_proxy (which would route 127.0.0.1 through a proxy)
 * must not change what git does.
 */
export function gitEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    // git only ignores ENOENT/ENOTDIR when probing $HOME/.config/git/*, so /dev/null is a
    // HOME that exists for nobody and needs no temp dir of its own.
    HOME: "/dev/null",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    LC_ALL: "C",
    LANG: "C",
    TZ: "UTC",
    // A 401 must fail the command, not wait for a password on a terminal.
    GIT_TERMINAL_PROMPT: "0",
  };
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface RunGitOptions {
  cwd?: string;
  /** Merged over gitEnv(); undefined removes a variable. */
  env?: Record<string, string | undefined>;
  /** Streamed to stdin with backpressure, so large inputs need not exist in memory at once. */
  input?: Buffer | string | Iterable<Buffer | string> | AsyncIterable<Buffer | string>;
  /** Resolve with a non-zero code instead of throwing GitError. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export async function runGit(args: string[], opts: RunGitOptions = {}): Promise<GitResult> {
  const child = spawn("git", args, {
    cwd: opts.cwd,
    env: gitEnv(opts.env),
    stdio: ["pipe", "pipe", "pipe"],
    timeout: opts.timeoutMs,
    killSignal: "SIGKILL",
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => err.push(c));
  const exited = new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const input = opts.input;
  const fed =
    input === undefined
      ? Promise.resolve(child.stdin.end())
      : pipeline(
          typeof input === "string" || Buffer.isBuffer(input) ? Readable.from([input]) : Readable.from(input),
          child.stdin,
        );
  // If git dies early, the pipeline fails with EPIPE; the exit code and stderr explain more.
  const [code] = await Promise.all([exited, fed.catch(() => undefined)]);
  const result = {
    code,
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
  };
  if (code !== 0 && !opts.allowFailure) throw new GitError(args, result);
  return result;
}

/** A fresh directory under the OS temp dir; the caller removes it (see removeDir). */
export function makeTempDir(prefix = "git-fixtures-"): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Incompressible but reproducible bytes. AES-256-CTR over zeros is a seeded counter-mode
 * stream like a sha256 counter, but an order of magnitude faster for multi-MiB files.
 */
export function deterministicBytes(length: number, seed = "git-fixtures"): Buffer {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

export function repoDir(root: string, repo: string): string {
  const parts = repo.split("/");
  const [owner, name] = parts;
  if (parts.length !== 2 || !owner || !name || owner.startsWith(".") || name.startsWith(".")) {
    throw new Error(`repo must look like "owner/name", got ${JSON.stringify(repo)}`);
  }
  return path.join(root, owner, `${name.replace(/\.git$/, "")}.git`);
}

export async function createRepo(
  root: string,
  repo: string,
  commits: CommitSpec[],
  opts: { branch?: string } = {},
): Promise<RepoFixture> {
  const branch = opts.branch ?? "main";
  if (commits.length === 0) throw new Error("createRepo needs at least one commit");
  const dir = repoDir(root, repo);
  await mkdir(path.dirname(dir), { recursive: true });
  // --template= skips copying sample hooks: nothing here runs hooks, and it keeps repos small.
  await runGit([
    "init",
    "--quiet",
    "--bare",
    "--template=",
    "--object-format=sha1",
    `--initial-branch=${branch}`,
    dir,
  ]);
  const marks = path.join(dir, "fixture-marks");
  await runGit(["--git-dir", dir, "fast-import", "--quiet", "--done", `--export-marks=${marks}`], {
    input: fastImportStream(commits, branch),
  });
  const markToSha = new Map<string, string>();
  for (const line of (await readFile(marks, "utf8")).split("\n")) {
    const [mark, sha] = line.split(" ");
    if (mark && sha) markToSha.set(mark, sha);
  }
  await rm(marks);
  const shas = commits.map((_, i) => {
    const sha = markToSha.get(`:${i + 1}`);
    if (!sha) throw new Error(`fast-import did not report commit ${i} of ${repo}`);
    return sha;
  });
  return { dir, shas };
}

function checkPath(p: string): string {
  // fast-import would need C-style quoting for these; fixtures have no use for them.
  if (!p || p.startsWith("/") || p.startsWith('"') || /[\n\0]/.test(p) || p.split("/").includes("..")) {
    throw new Error(`unsupported fixture path ${JSON.stringify(p)}`);
  }
  return p;
}

function* fastImportStream(commits: CommitSpec[], branch: string): Generator<Buffer> {
  const data = (content: string | Buffer): Buffer[] => {
    const buf = typeof content === "string" ? Buffer.from(content) : content;
    return [Buffer.from(`data ${buf.length}\n`), buf, Buffer.from("\n")];
  };
  for (const [i, commit] of commits.entries()) {
    const when = `${BASE_EPOCH + i * 60} +0000`;
    let message = commit.message ?? `commit ${i}`;
    if (!message.endsWith("\n")) message += "\n";
    // No `from`: fast-import continues the branch from the commit it wrote last.
    yield Buffer.from(
      `commit refs/heads/${branch}\nmark :${i + 1}\nauthor ${FIXTURE_IDENT} ${when}\ncommitter ${FIXTURE_IDENT} ${when}\n`,
    );
    yield* data(message);
    for (const p of commit.delete ?? []) yield Buffer.from(`D ${checkPath(p)}\n`);
    for (const [p, spec] of Object.entries(commit.files ?? {})) {
      let mode = "100644";
      let content: string | Buffer;
      if (typeof spec === "string" || Buffer.isBuffer(spec)) content = spec;
      else if ("symlink" in spec) {
        mode = "120000";
        content = spec.symlink;
      } else {
        content = spec.content;
        if (spec.mode === "755") mode = "100755";
      }
      yield Buffer.from(`M ${mode} inline ${checkPath(p)}\n`);
      yield* data(content);
    }
  }
  yield Buffer.from("done\n");
}

export interface LongHistoryOptions {
  commits: number;
  /** Size of an incompressible file added by commit 1 and deleted by commit floor(commits / 2). */
  bigFileBytes?: number;
  /** Added by the first commit and left alone afterwards, so they are in every commit's tree. */
  extraFiles?: Record<string, FileSpec>;
  branch?: string;
}

export interface LongHistoryRepo extends RepoFixture {
  /** Where the big file lives in history: present in shas[addedAt] .. shas[deletedAt - 1]. */
  bigFile?: { path: string; bytes: number; addedAt: number; deletedAt: number };
}

export const BIG_FILE_PATH = "assets/blob.bin";

/**
 * A repo shaped like the ones a stager pins: a small head tree (README.md, config.yaml,
 * CHANGELOG.md plus extraFiles), thousands of commits each touching CHANGELOG.md, and
 * optionally a large blob that only exists in old history, so a full clone is much bigger than
 * a shallow fetch of any commit outside [addedAt, deletedAt).
 */
export async function createLongHistoryRepo(
  root: string,
  repo: string,
  opts: LongHistoryOptions,
): Promise<LongHistoryRepo> {
  const n = opts.commits;
  if (!Number.isInteger(n) || n < 1) throw new Error("commits must be a positive integer");
  const wantBig = (opts.bigFileBytes ?? 0) > 0;
  if (wantBig && n < 3) throw new Error("a big file needs at least 3 commits (add, keep, delete)");
  const bigFile = wantBig
    ? {
        path: BIG_FILE_PATH,
        bytes: opts.bigFileBytes ?? 0,
        addedAt: 1,
        deletedAt: Math.max(2, Math.floor(n / 2)),
      }
    : undefined;
  const commits: CommitSpec[] = [];
  for (let i = 0; i < n; i++) {
    const files: Record<string, FileSpec> = { "CHANGELOG.md": `# Changelog\n\nrevision ${i}\n` };
    let message = `changelog: revision ${i}`;
    if (i === 0) {
      Object.assign(files, {
        "README.md": `# ${repo}\n\nFixture repository with ${n} commits.\n`,
        "config.yaml": `name: ${repo}\nversion: 0\n`,
        ...opts.extraFiles,
      });
      message = "initial import";
    }
    // Touch config.yaml now and then, so commits differ in more than one blob.
    if (i > 0 && i % 500 === 0) files["config.yaml"] = `name: ${repo}\nversion: ${i}\n`;
    const commit: CommitSpec = { message, files };
    if (bigFile && i === bigFile.addedAt) {
      files[bigFile.path] = deterministicBytes(bigFile.bytes, repo);
      commit.message = "add large asset";
    }
    if (bigFile && i === bigFile.deletedAt) {
      commit.delete = [bigFile.path];
      commit.message = "drop large asset";
    }
    commits.push(commit);
  }
  const result = await createRepo(root, repo, commits, opts.branch ? { branch: opts.branch } : {});
  return bigFile ? { ...result, bigFile } : result;
}
