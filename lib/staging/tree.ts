/**
 * The staged tree on disk: writing a commit's files with normalised metadata, and hashing a tree so a
 * later run can prove it intact. The Docker build's context hash depends on both being deterministic.
 */
import { createHash } from "node:crypto";
import {
  chmod,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readFile,
  readlink,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join, posix } from "node:path";
import type { TreeEntry } from "./git";

export const FILE_MODE = 0o644;
export const EXEC_MODE = 0o755;
export const DIR_MODE = 0o755;

/** Why a tree cannot be staged; permanent, so never retried. */
export class TreeError extends Error {
  override name = "TreeError";
}

/**
 * Rejects what cannot be staged safely: paths that escape the entry, symlinks that point outside it
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
    if (entry.mode === "160000")
      problems.push(`${entry.path}: submodules are not supported (no content to stage)`);
    if (entry.mode === "120000") {
      const target = symlinkTargets.get(entry.path) ?? "";
      const resolved = posix.normalize(posix.join(posix.dirname(entry.path), target));
      if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) {
        problems.push(`${entry.path}: symlink points outside the template (-> ${target})`);
      }
    }
  }
  if (problems.length > 0) throw new TreeError(problems.join("; "));
}

/**
 * Writes the commit's files under `root` (which must not exist yet). Modes are set explicitly after
 * creation so the umask of whoever runs this cannot change them; times are the commit's.
 */
export async function writeTree(
  root: string,
  entries: TreeEntry[],
  blobs: Map<string, Buffer>,
  mtime: number,
): Promise<void> {
  const dirs = new Set<string>([""]);
  for (const entry of entries) {
    const parts = entry.path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const dir of [...dirs].sort()) await mkdir(join(root, dir), { recursive: true });
  for (const entry of entries) {
    const target = join(root, entry.path);
    const content = blobs.get(entry.oid);
    if (content === undefined) throw new TreeError(`${entry.path}: blob ${entry.oid} missing`);
    if (entry.mode === "120000") {
      await symlink(content.toString("utf8"), target);
      await lutimes(target, mtime, mtime);
      continue;
    }
    await writeFile(target, content);
    await chmod(target, entry.mode === "100755" ? EXEC_MODE : FILE_MODE);
    await utimes(target, mtime, mtime);
  }
  // Deepest first, so setting a child's time does not disturb its parent's afterwards.
  for (const dir of [...dirs].sort().reverse()) {
    await chmod(join(root, dir), DIR_MODE);
    await utimes(join(root, dir), mtime, mtime);
  }
}

/**
 * Digest of a tree on disk: every path, its type, its permission bits, and its content (or link target).
 * Hashing what is on disk, not what was meant to be written, is what lets a warm run detect tampering.
 */
export async function hashTree(root: string): Promise<string> {
  const hash = createHash("sha256");
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const st = await lstat(abs);
      const perm = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) {
        hash.update(`l ${perm} ${path}\0${await readlink(abs)}\0`);
      } else if (st.isDirectory()) {
        hash.update(`d ${perm} ${path}\0`);
        await walk(path);
      } else if (st.isFile()) {
        const content = createHash("sha256")
          .update(await readFile(abs))
          .digest("hex");
        hash.update(`f ${perm} ${path}\0${content}\0`);
      } else {
        hash.update(`? ${perm} ${path}\0`);
      }
    }
  }
  await walk("");
  return `sha256:${hash.digest("hex")}`;
}

/** Files that must exist at the top of an entry, by list; a table so more contracts can be added. */
export function missingRequiredFiles(entries: TreeEntry[], required: readonly string[]): string[] {
  const present = new Set(entries.filter((e) => e.mode !== "160000").map((e) => e.path));
  return required.filter((file) => !present.has(file));
}
