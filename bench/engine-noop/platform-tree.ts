/**
 * A source tree the size of the platform's real checkout, generated deterministically: the build context is
 * the whole checkout, and docker-build hashes every file of it on each check, so a 5-file sample hides what
 * the real one costs. A node_modules-free TS/Go/Python mix in nested folders, sized like a monorepo's files.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface TreeFile {
  path: string;
  bytes: number;
}

export interface TreeShape {
  dirs: string[];
  files: TreeFile[];
}

/** mulberry32: a tiny seeded PRNG, so every run (and every machine) generates the same tree. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOPS = ["services", "pkg", "web", "tools", "python", "deploy", "docs", "internal"];
const EXTS = [".ts", ".ts", ".ts", ".ts", ".go", ".go", ".go", ".py", ".py", ".md", ".json", ".yaml"];

/** Roughly log-normal: most files 1-8 KiB, a few tens of KiB, like source files. */
function fileSize(rand: () => number): number {
  const u = rand() + rand() + rand();
  return Math.round(2 ** (7 + u * 3.2));
}

/** `dirs` folders (at most 4 deep, under a few top-level ones) holding `files` files between them. */
export function platformTreeShape(opts: { files: number; dirs: number; seed?: number }): TreeShape {
  const rand = prng(opts.seed ?? 1);
  const dirs: string[] = [];
  for (let i = 0; i < opts.dirs; i++) {
    const parents = dirs.filter((d) => d.split("/").length < 4);
    const nest = i >= TOPS.length && parents.length > 0 && rand() < 0.8;
    const parent = nest ? parents[Math.floor(rand() * parents.length)] : undefined;
    dirs.push(parent ? `${parent}/m${i}` : `${TOPS[i % TOPS.length]}${i < TOPS.length ? "" : i}`);
  }
  const files: TreeFile[] = [];
  for (let i = 0; i < opts.files; i++) {
    const dir = dirs[i < dirs.length ? i : Math.floor(rand() * dirs.length)] ?? ".";
    const ext = EXTS[Math.floor(rand() * EXTS.length)] ?? ".ts";
    files.push({ path: `${dir}/f${i}${ext}`, bytes: fileSize(rand) });
  }
  return { dirs, files };
}

/** Text of exactly `bytes` bytes, different per file, so no two files hash alike. */
function content(path: string, bytes: number): string {
  const line = `// ${path}: generated for bench:engine-noop\n`;
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

/** Writes the tree under `root`; returns its total size in bytes. */
export function writePlatformTree(root: string, shape: TreeShape): number {
  for (const d of shape.dirs) mkdirSync(join(root, d), { recursive: true });
  let total = 0;
  for (const f of shape.files) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), content(f.path, f.bytes));
    total += f.bytes;
  }
  return total;
}

const GIT_DATE = "2026-11-30T12:00:00Z";

/**
 * Makes `root` a git checkout of one commit, packed as a clone's .git is: the context has no .dockerignore
 * entry for .git, so docker-build hashes it too. Returns the commit.
 */
export function commitTree(root: string): string {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "bench",
    GIT_AUTHOR_EMAIL: "bench@example.test",
    GIT_COMMITTER_NAME: "bench",
    GIT_COMMITTER_EMAIL: "bench@example.test",
    GIT_AUTHOR_DATE: GIT_DATE,
    GIT_COMMITTER_DATE: GIT_DATE,
  };
  const git = (args: string[]) => execFileSync("git", args, { cwd: root, env, encoding: "utf8" }).trim();
  writeFileSync(join(root, ".gitignore"), ".tenant-bundle-deps/\n");
  git(["init", "-q"]);
  git(["add", "-A"]);
  git(["commit", "-q", "-m", "platform-sized tree"]);
  git(["repack", "-adq"]);
  git(["prune-packed"]);
  return git(["rev-parse", "HEAD"]);
}
