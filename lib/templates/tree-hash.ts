/**
 * The digest of a staged tree on disk: every path, its type, its permission bits, and its content (or
 * link target). Hashing what is on disk, not what was meant to be written, is what lets a warm run
 * detect tampering.
 */
import { createHash } from "node:crypto";
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from "node:fs";
import { join } from "node:path";

/** Files just written, by path: their size and the sha256 of the bytes written (writeTree's result). */
export type WrittenFiles = ReadonlyMap<string, { size: number; sha256: string }>;

const CHUNK = 1024 * 1024;
let chunk: Buffer | undefined;

/** sha256 of a file: small ones read at once (one syscall), large ones in 1 MiB pieces. */
function fileDigest(path: string, size: number): string {
  if (size <= CHUNK) return createHash("sha256").update(readFileSync(path)).digest("hex");
  chunk ??= Buffer.allocUnsafe(CHUNK);
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, chunk, 0, CHUNK, null); n > 0; n = readSync(fd, chunk, 0, CHUNK, null))
      hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/**
 * Digest of the tree at `root`. Names, types and modes always come from the disk; a regular file's content
 * digest comes from `written` when this run just wrote it there (same path, same size), which spares
 * reading a fresh tree back, and from the file itself otherwise (a warm run passes nothing).
 */
export function hashTree(root: string, written: WrittenFiles = new Map()): string {
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
        const known = written.get(path);
        const content = known && known.size === st.size ? known.sha256 : fileDigest(abs, st.size);
        hash.update(`f ${perm} ${path}\0${content}\0`);
      } else {
        hash.update(`? ${perm} ${path}\0`);
      }
    }
  }
  walk("");
  return `sha256:${hash.digest("hex")}`;
}
