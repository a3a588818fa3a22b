/**
 * The write step: the pinned commit's tree, verified, written beside its target under a working name and
 * hashed as it is on disk. Blobs go from git straight into their files, never whole into memory.
 */
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { PlannedEntry } from "../../manifest/contract";
import { statFingerprint } from "../fingerprint";
import type { GitRun } from "../git/process";
import { readCommit } from "../git/read-commit";
import type { Layout } from "../layout";
import { hashTree, TreeError, type WrittenFiles, writeTree } from "../tree";
import { verifyCommit } from "./verify";

export interface WorkDir {
  /** Removed, whatever happens, once the entry is done. */
  work: string;
  /** The private bare repository the commit is fetched into. */
  gitDir: string;
  /** Where the tree is built before the swap. */
  tree: string;
}

/**
 * Makes the entry's working directory. Its name is the longest staging needs (`.old-<tag>-<name>` for the
 * swap is as long), so a name the file system refuses fails here, with nothing fetched, half-written or
 * left without its record.
 */
export function makeWorkDir(layout: Layout, entry: PlannedEntry): WorkDir {
  const work = layout.work(entry);
  try {
    mkdirSync(work);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENAMETOOLONG") throw err;
    throw new TreeError(
      `entry name too long for the file system (ENAMETOOLONG): staging it needs the working name .tmp-<8 hex>-<name>, ${Buffer.byteLength(basename(work))} bytes, in ${layout.listDir(entry.list)}`,
    );
  }
  return { work, gitDir: join(work, "git"), tree: join(work, "tree") };
}

/**
 * Reads the fetched commit, verifies it, writes its tree at `dir.tree` and returns that tree's digest and
 * stat fingerprint (taken before the hashing, so nothing written between the two can be vouched for).
 */
export async function writeEntry(
  entry: PlannedEntry,
  dir: WorkDir,
  run: GitRun,
): Promise<{ digest: string; stat: string }> {
  const commit = await readCommit(dir.gitDir, entry.ref, run);
  let written: WrittenFiles;
  try {
    verifyCommit(entry.list, entry.ref, commit.files, commit.links);
    written = await writeTree(dir.tree, commit.files, commit.links, commit.time, commit);
  } finally {
    await commit.close();
  }
  const stat = statFingerprint(dir.tree);
  // The tree's metadata is read back from disk; file contents are hashed as they were written.
  return { digest: hashTree(dir.tree, written), stat };
}
