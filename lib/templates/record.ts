/**
 * Each staged entry's record (`.molecule-stage/<list>/<name>.json`): the repo, ref and digest it was
 * staged at, which lets a warm run prove the tree on disk is that commit's without any git.
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PlannedEntry } from "../manifest/contract";
import { tag } from "./layout";
import { FILE_MODE } from "./tree";

export interface Marker {
  repo: string;
  ref: string;
  digest: string;
}

/** The record at `path`, or undefined when it is absent or unreadable (the entry is then staged again). */
export function readMarker(path: string): Marker | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Marker;
  } catch {
    return undefined;
  }
}

export const markerOf = (entry: PlannedEntry, digest: string) =>
  `${JSON.stringify({ repo: entry.repo, ref: entry.ref, digest })}\n`;

/** The record names this entry's repo and ref: the tree on disk should then be that commit's. */
export const recordedAt = (marker: Marker | undefined, entry: PlannedEntry): marker is Marker =>
  marker !== undefined && marker.ref === entry.ref && marker.repo === entry.repo;

/**
 * The temporary name is short (`.tmp-<tag>` beside the file, removed by the bookkeeping sweep if a kill
 * leaves it): a name derived from the file's own would fail for names that fit on their own. The mode
 * is set explicitly: the bookkeeping is in the build context too, and the umask must not decide it.
 */
export function writeAtomically(path: string, content: string): void {
  const tmp = join(dirname(path), `.tmp-${tag()}`);
  writeFileSync(tmp, content, { mode: FILE_MODE });
  chmodSync(tmp, FILE_MODE);
  renameSync(tmp, path);
}
