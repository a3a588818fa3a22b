/**
 * Where a bench keeps its repositories and staged trees. A tmpfs (/dev/shm) by default, not /tmp: this VM's
 * root filesystem is ext4 without a journal, where creating a file after many deletions (which every
 * pipeline here does: .git dirs, temp repos) costs up to ~1 ms instead of ~20 µs, and that quirk, not the
 * code measured, then decides the numbers. A CI runner's journaled disk behaves much more like the tmpfs.
 */
import { closeSync, constants as fsConstants, mkdirSync, openSync } from "node:fs";
import { access, statfs } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";

const TMPFS_MAGIC = 0x01021994;

/** /dev/shm when it is a writable tmpfs, else the OS temp dir. */
export async function defaultTmpParent(): Promise<string> {
  try {
    if ((await statfs("/dev/shm")).type === TMPFS_MAGIC) {
      await access("/dev/shm", fsConstants.W_OK);
      return "/dev/shm";
    }
  } catch {
    // no /dev/shm here
  }
  return os.tmpdir();
}

/**
 * Milliseconds to create one empty file in a fresh directory. On ext4 without a journal, inode allocation
 * skips inodes deleted in the last 1-5 minutes one by one, so creating a file can cost ~1 ms instead of
 * ~20 µs after a big delete, by anyone on the machine. Taken just before a run, it shows when that run was
 * slowed by the disk rather than by itself.
 */
export function probeCreate(dir: string, files = 200): number {
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  for (let i = 0; i < files; i++) closeSync(openSync(join(dir, `f${i}`), "wx"));
  return (performance.now() - started) / files;
}
