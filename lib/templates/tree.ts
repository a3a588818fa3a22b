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
  closeSync,
  fchmodSync,
  futimesSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
} from "node:fs";
import { join } from "node:path";
import type { BlobSink } from "./git/requests";
import type { TreeEntry } from "./git/tree-object";
import type { WrittenFiles } from "./tree-hash";

export { hashTree, type WrittenFiles } from "./tree-hash";

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
    const bad = entry.path.split("/").find((p) => p === "" || p === "." || p === ".." || p === ".git");
    if (bad !== undefined) {
      problems.push(`${entry.path}: unsafe path (a '${bad}' component)`);
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

/** Where file contents come from: readCommit's blob stream (each blob written to the fd its sink opens). */
export interface BlobSource {
  writeBlobs(sinks: BlobSink[]): Promise<void>;
}

/**
 * Writes the commit's files under `root` (which must not exist yet). Modes are set explicitly after
 * creation so the umask of whoever runs this cannot change them; times are the commit's. File contents
 * are streamed from `blobs` straight into each file: nothing holds a whole file in memory. Returns each
 * file's size and sha256 as written, so hashing the new tree need not read every file back.
 */
export async function writeTree(
  root: string,
  entries: TreeEntry[],
  links: Map<string, string>,
  mtime: number,
  blobs: BlobSource,
): Promise<WrittenFiles> {
  const written = new Map<string, { size: number; sha256: string }>();
  const dirs = new Set<string>([""]);
  for (const entry of entries) {
    const parts = entry.path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  for (const dir of [...dirs].sort()) at(dir, () => mkdirSync(join(root, dir), { recursive: true }));
  const sinks: BlobSink[] = [];
  for (const entry of entries) {
    const target = join(root, entry.path);
    if (entry.mode === "120000") {
      const link = links.get(entry.path);
      if (link === undefined)
        throw new TreeError(`${entry.path}: symlink ${entry.oid} was not read from the commit`);
      at(entry.path, () => {
        symlinkSync(link, target);
        lutimesSync(target, mtime, mtime);
      });
      continue;
    }
    if (entry.type !== "blob") continue;
    const hash = createHash("sha256");
    let size = 0;
    sinks.push({
      oid: entry.oid,
      written: (chunk) => {
        hash.update(chunk);
        size += chunk.length;
      },
      open: () => {
        let fd = -1;
        at(entry.path, () => {
          fd = openSync(target, "wx", FILE_MODE);
        });
        return fd;
      },
      close: (fd) => {
        // Through the open descriptor: no second path lookup per file, and nothing is written after.
        try {
          fchmodSync(fd, entry.mode === "100755" ? EXEC_MODE : FILE_MODE);
          futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
        written.set(entry.path, { size, sha256: hash.digest("hex") });
      },
    });
  }
  await blobs.writeBlobs(sinks);
  // Deepest first, so setting a child's time does not disturb its parent's afterwards.
  for (const dir of [...dirs].sort().reverse()) {
    chmodSync(join(root, dir), DIR_MODE);
    utimesSync(join(root, dir), mtime, mtime);
  }
  return written;
}

/** Runs a write for one path of the tree; a name the file system refuses becomes a TreeError naming it. */
function at(path: string, write: () => void): void {
  try {
    write();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENAMETOOLONG")
      throw new TreeError(`${path || "."}: name too long for the file system (ENAMETOOLONG)`);
    throw err;
  }
}

/**
 * Why each required file is unusable, or nothing when all are fine. A required file is a regular file
 * (git mode 100644 or 100755) at the top of the entry: a symlink (dangling, or to a directory), a
 * directory or a submodule with that name satisfies no reader of the file.
 */
export function requiredFileProblems(entries: TreeEntry[], required: readonly string[]): string[] {
  const problems: string[] = [];
  for (const file of required) {
    const entry = entries.find((e) => e.path === file);
    if (entry?.mode === "100644" || entry?.mode === "100755") continue;
    if (entry) {
      const what =
        entry.mode === "120000" ? "a symlink" : entry.mode === "160000" ? "a submodule" : "not a file";
      problems.push(`${file} is ${what} (mode ${entry.mode}), not a regular file (100644 or 100755)`);
    } else if (entries.some((e) => e.path.startsWith(`${file}/`))) {
      problems.push(`${file} is a directory, not a regular file (100644 or 100755)`);
    } else {
      problems.push(`${file} is missing`);
    }
  }
  return problems;
}
