/**
 * Which directories the stager may write into. It deletes whatever its list directories hold that the
 * manifest does not name, so it must never be pointed at a directory that holds someone else's files:
 * it stages only into a destination it owns, one that is absent, empty, or carries the marker it writes
 * on first use (`.molecule-stage/owner`). Anything else is refused before a single byte is written.
 *
 * Inside a destination it owns it never follows a symlink: a list directory, an entry or a bookkeeping
 * directory that is a symlink could point anywhere, and deleting or chmod'ing through it would reach
 * outside. Such a destination is refused too, untouched.
 *
 * Synchronous, like tree.ts: a handful of small calls, and the checks must finish before any write.
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  type Stats,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { DIR_MODE, FILE_MODE } from "./tree";

export const STATE_DIR = ".molecule-stage";
export const OWNER_FILE = "owner";
/** Fixed bytes, no time or host: `.molecule-stage` is inside the Docker build context. */
export const OWNER_CONTENT = `${JSON.stringify({ stager: "molecule-images", layout: 1 })}\n`;

/** The destination is not one the stager may write into; nothing has been touched. */
export class DestinationError extends Error {
  override name = "DestinationError";
}

export type Ownership = "absent" | "adoptable" | "owned";

/** lstat, or undefined when nothing is there (a name too long for the file system cannot be there). */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENAMETOOLONG") return undefined;
    throw err;
  }
}

const refuse = (dest: string, why: string) =>
  new DestinationError(`${dest}: refusing to stage into it: ${why}`);

/**
 * Whether `dest` is the stager's to write into, by reading only. `dest` itself may be a symlink: it is the
 * path the caller chose, so it is followed; nothing below it is.
 */
export function ownership(dest: string): Ownership {
  let st: Stats;
  try {
    st = statSync(dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "absent";
    if (code === "ENOTDIR") throw refuse(dest, "a component of the path is not a directory");
    throw err;
  }
  if (!st.isDirectory()) throw refuse(dest, "it exists and is not a directory");
  const names = readdirSync(dest);
  if (names.length === 0) return "adoptable";
  const state = join(dest, STATE_DIR);
  const stateSt = lstatOrUndefined(state);
  const owner = join(state, OWNER_FILE);
  const ownerSt = stateSt?.isDirectory() ? lstatOrUndefined(owner) : undefined;
  const content = ownerSt?.isFile() ? readFileSync(owner, "utf8") : undefined;
  if (content === OWNER_CONTENT) return "owned";
  // A first run killed while taking the directory: its bookkeeping directory alone, with at most a
  // partly written marker (the marker is the second thing written into an empty directory).
  if (
    names.length === 1 &&
    stateSt?.isDirectory() &&
    readdirSync(state).every((n) => n === OWNER_FILE) &&
    (ownerSt === undefined || (content !== undefined && OWNER_CONTENT.startsWith(content)))
  ) {
    return "adoptable";
  }
  const why =
    content !== undefined
      ? `its ${STATE_DIR}/${OWNER_FILE} marker is not one this stager writes`
      : stateSt?.isDirectory()
        ? `it is not empty and is not a staging destination (no ${STATE_DIR}/${OWNER_FILE} marker; a ${STATE_DIR} left by an older stager has none: delete the directory and stage again)`
        : `it is not empty and is not a staging destination (no ${STATE_DIR}/${OWNER_FILE} marker)`;
  throw refuse(
    dest,
    `${why}. The stager deletes what its list directories hold beyond the manifest's entries, so it stages only into a new or empty directory or one it staged before: choose another destination, or empty this one`,
  );
}

/**
 * Refuses a destination the stager owns when something it manages is a symlink or not a directory: the
 * list directories and their entries, the bookkeeping directories and their records.
 */
export function checkOwnedLayout(dest: string, dirs: string[]): void {
  const rel = (p: string) => relative(dest, p);
  const symlink = (p: string) =>
    refuse(
      dest,
      `${rel(p)} is a symlink; the stager never follows a symlink out of its destination (remove it, or stage into a new directory)`,
    );
  for (const dir of dirs) {
    const st = lstatOrUndefined(dir);
    if (!st) continue;
    if (st.isSymbolicLink()) throw symlink(dir);
    if (!st.isDirectory()) throw refuse(dest, `${rel(dir)} is not a directory`);
    for (const name of readdirSync(dir)) {
      if (lstatSync(join(dir, name)).isSymbolicLink()) throw symlink(join(dir, name));
    }
  }
}

/** Creates `path` as a 0755 directory, or sets an existing one's mode only if it differs. */
export function ensureDir(dest: string, path: string): void {
  let st = lstatOrUndefined(path);
  if (!st) {
    try {
      mkdirSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    st = lstatSync(path);
  }
  if (st.isSymbolicLink() || !st.isDirectory())
    throw refuse(dest, `${relative(dest, path)} is not a directory`);
  // The umask decides a new directory's mode; the build context must not depend on it.
  if ((st.mode & 0o7777) !== DIR_MODE) chmodSync(path, DIR_MODE);
}

/** Makes an absent or empty `dest` the stager's: the directory itself, then the marker. */
export function adopt(dest: string): void {
  mkdirSync(dest, { recursive: true });
  if ((statSync(dest).mode & 0o7777) !== DIR_MODE) chmodSync(dest, DIR_MODE);
  const state = join(dest, STATE_DIR);
  ensureDir(dest, state);
  const owner = join(state, OWNER_FILE);
  // One small write: a kill leaves no marker, an empty one or the whole one (ownership() accepts the
  // first two as a directory still being taken). A concurrent first run writes the same bytes.
  writeFileSync(owner, OWNER_CONTENT, { mode: FILE_MODE });
  chmodSync(owner, FILE_MODE);
}
