/**
 * The staged tree on disk: writing a commit's files with normalised metadata, and hashing a tree so a
 * later run can prove it intact. The Docker build's context hash depends on both being deterministic.
 *
 * Synchronous on purpose: templates are thousands of tiny files, and on these runners each async fs call
 * costs ~8x its sync twin (thread-pool hop + promise), which dominated both cold and warm runs.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { TreeEntry } from "./git";

export const FILE_MODE = 0o644;
export const EXEC_MODE = 0o755;
export const DIR_MODE = 0o755;

/** Why a tree cannot be staged; permanent, so never retried. */
export class TreeError extends Error {
  override name = "TreeError";
}

const MAX_LINK_HOPS = 40; // the kernel's own limit (ELOOP)

/**
 * Where a symlink ends up, resolved the way the kernel would: every component that is itself an in-tree
 * symlink is followed. Returns undefined when the walk leaves the entry, meets an absolute target, or
 * loops. Checking the target text alone misses `escape -> dir/up/../..` where `dir/up` is a link.
 */
export function resolveLink(linkPath: string, links: Map<string, string>): string | undefined {
  const current = linkPath.split("/").slice(0, -1);
  const start = links.get(linkPath);
  if (start === undefined || start.startsWith("/")) return undefined;
  const queue = start.split("/");
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (current.length === 0) return undefined;
      current.pop();
      continue;
    }
    current.push(part);
    const target = links.get(current.join("/"));
    if (target === undefined) continue;
    if (target.startsWith("/") || ++hops > MAX_LINK_HOPS) return undefined;
    current.pop();
    queue.unshift(...target.split("/"));
  }
  return current.join("/");
}

/**
 * Rejects what cannot be staged safely: paths that escape the entry, symlinks that resolve outside it
 * (they would let a template read or overwrite other files in the image), and submodules (no content).
 */
export function checkTree(entries: TreeEntry[], symlinkTargets: Map<string, string>): void {
  const problems: string[] = [];
  for (const entry of entries) {
    const parts = entry.path.split("/");
    if (parts.some((p) => p === "" || p === "." || p === ".." || p === ".git")) {
      problems.push(`${entry.path}: unsafe path`);
      continue;
    }
    if (entry.mode === "160000") {
      problems.push(`${entry.path}: submodules are not supported (no content to stage)`);
    }
    if (entry.mode === "120000" && resolveLink(entry.path, symlinkTargets) === undefined) {
      const target = symlinkTargets.get(entry.path) ?? "";
      problems.push(`${entry.path}: symlink resolves outside the template (-> ${target})`);
    }
  }
  if (problems.length > 0) throw new TreeError(problems.join("; "));
}

/**
 * Writes the commit's files under `root` (which must not exist yet). Modes are set explicitly after
 * creation so the umask of whoever runs this cannot change them; times are the commit's.
 */
export function writeTree(
  root: string,
  entries: TreeEntry[],
  blobs: Map<string, Buffer>,
  mtime: number,
): void {
  const dirs = new Set<string>([""]);
  for (const entry of entries) {
    const parts = entry.path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const dir of [...dirs].sort()) mkdirSync(join(root, dir), { recursive: true });
  for (const entry of entries) {
    const target = join(root, entry.path);
    const content = blobs.get(entry.oid);
    if (content === undefined) throw new TreeError(`${entry.path}: blob ${entry.oid} missing`);
    if (entry.mode === "120000") {
      symlinkSync(content.toString("utf8"), target);
      lutimesSync(target, mtime, mtime);
      continue;
    }
    writeFileSync(target, content);
    chmodSync(target, entry.mode === "100755" ? EXEC_MODE : FILE_MODE);
    utimesSync(target, mtime, mtime);
  }
  // Deepest first, so setting a child's time does not disturb its parent's afterwards.
  for (const dir of [...dirs].sort().reverse()) {
    chmodSync(join(root, dir), DIR_MODE);
    utimesSync(join(root, dir), mtime, mtime);
  }
}

/**
 * Digest of a tree on disk: every path, its type, its permission bits, and its content (or link target).
 * Hashing what is on disk, not what was meant to be written, is what lets a warm run detect tampering.
 */
export function hashTree(root: string): string {
  const hash = createHash("sha256");
  function walk(rel: string): void {
    const names = readdirSync(join(root, rel)).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const st = lstatSync(abs);
      const perm = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) {
        hash.update(`l ${perm} ${path}\0${readlinkSync(abs)}\0`);
      } else if (st.isDirectory()) {
        hash.update(`d ${perm} ${path}\0`);
        walk(path);
      } else if (st.isFile()) {
        const content = createHash("sha256").update(readFileSync(abs)).digest("hex");
        hash.update(`f ${perm} ${path}\0${content}\0`);
      } else {
        hash.update(`? ${perm} ${path}\0`);
      }
    }
  }
  walk("");
  return `sha256:${hash.digest("hex")}`;
}

/** Files that must exist at the top of an entry, by list; a table so more contracts can be added. */
export function missingRequiredFiles(entries: TreeEntry[], required: readonly string[]): string[] {
  const present = new Set(entries.filter((e) => e.mode !== "160000").map((e) => e.path));
  return required.filter((file) => !present.has(file));
}
