/**
 * The warm check: proof, by reading only, that what is on disk is what the manifest pins. Per entry it
 * decides whether the staged tree can stay; for the whole destination it finds the runs that would write
 * nothing at all, which then take no lock and work on a read-only destination.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { LISTS, type PlannedEntry } from "../../manifest/contract";
import { lstatOrUndefined, OWNER_FILE } from "../destination";
import { statFingerprint } from "../fingerprint";
import type { Fingerprints } from "../fingerprints";
import { type Layout, wantedNames } from "../layout";
import type { StageOptions } from "../options";
import type { Progress } from "../progress";
import { type Marker, readMarker, recordedAt } from "../record";
import { failureOf, finish, labelOf, type Outcome, type StageResult, sourceOf } from "../result";
import { DIR_MODE, FILE_MODE, hashTree } from "../tree";
import { lacksToken, privateNoToken, skipOf, skipWarning } from "./private";
import { strayNames, strayRecords } from "./prune";

/**
 * Proof that the tree at `target` is the recorded one: a real directory, mode 0755, the recorded digest.
 * The digest is trusted without reading any file when the tree's stat fingerprint is the one recorded for
 * it; otherwise the tree is hashed in full, and a fingerprint that held still around the hashing is
 * recorded for the next run.
 */
export function intact(target: string, marker: Marker, key: string, fingerprints: Fingerprints): boolean {
  const st = lstatOrUndefined(target);
  if (!st?.isDirectory() || (st.mode & 0o7777) !== DIR_MODE) return false;
  const before = statFingerprint(target);
  if (fingerprints.vouches(key, marker.digest, before)) return true;
  if (hashTree(target) !== marker.digest) return false;
  if (statFingerprint(target) === before) fingerprints.record(key, marker.digest, before);
  return true;
}

/** The key of an entry's fingerprint. */
export const fingerprintKey = (entry: { list: string; name: string }) => `${entry.list}/${entry.name}`;

/** unchanged: the recorded tree is on disk, intact; damaged: recorded but changed since; cold: neither. */
export type WarmVerdict = { state: "unchanged"; digest: string } | { state: "damaged" } | { state: "cold" };

/**
 * What the warm check finds for one entry, asking the disk only as far as it must: no record at this
 * repo and ref means cold without a look at the tree, and the tree is hashed only when it is there.
 */
export function warmVerdict(
  entry: PlannedEntry,
  marker: Marker | undefined,
  disk: { present(): boolean; intact(marker: Marker): boolean },
): WarmVerdict {
  if (!recordedAt(marker, entry) || !disk.present()) return { state: "cold" };
  return disk.intact(marker) ? { state: "unchanged", digest: marker.digest } : { state: "damaged" };
}

const hasMode = (path: string, mode: number, dir: boolean) => {
  const st = lstatOrUndefined(path);
  return st !== undefined && (dir ? st.isDirectory() : st.isFile()) && (st.mode & 0o7777) === mode;
};

/** The destination's own layout is already what the locked run leaves: modes, marker, no lock, no strays. */
function settledLayout(layout: Layout, opts: StageOptions): boolean {
  if ((statSync(layout.dest).mode & 0o7777) !== DIR_MODE) return false;
  if (
    !hasMode(layout.stateDir(), DIR_MODE, true) ||
    !hasMode(join(layout.stateDir(), OWNER_FILE), FILE_MODE, false)
  )
    return false;
  // A lock, live or left by a kill: the locked run refuses the first and removes the second.
  if (lstatOrUndefined(layout.lock())) return false;
  return LISTS.every((list) => {
    if (!hasMode(layout.listDir(list), DIR_MODE, true) || !hasMode(layout.stateDir(list), DIR_MODE, true))
      return false;
    const wanted = wantedNames(opts.manifest, list);
    return (
      strayNames(readdirSync(layout.listDir(list)), wanted).length === 0 &&
      strayRecords(readdirSync(layout.stateDir(list)), wanted).length === 0
    );
  });
}

/**
 * The outcome of a run that would write nothing at all, found by reading only; undefined as soon as
 * anything would be written (an entry to fetch, replace or delete, a stray, a mode to set, a lock to
 * take over). Everything it accepts is exactly what the locked run would leave as it is, so returning
 * this outcome is that run, minus its writes.
 */
export function unchangedOutcome(
  layout: Layout,
  planned: PlannedEntry[],
  opts: StageOptions,
  fingerprints: Fingerprints,
): Outcome | undefined {
  if (!settledLayout(layout, opts)) return undefined;
  const outcome: Outcome = { results: [], skipped: [], failures: [] };
  const toHash: Array<[PlannedEntry, Marker]> = [];
  // Cheap checks for every entry first, hashing last: a bumped ref is found without reading any tree.
  for (const entry of planned) {
    if (lacksToken(entry, opts)) {
      if (!opts.allowMissingPrivate) {
        outcome.failures.push(failureOf(entry, privateNoToken(entry)));
        continue;
      }
      if (lstatOrUndefined(layout.target(entry)) || lstatOrUndefined(layout.marker(entry))) return undefined;
      outcome.skipped.push(skipOf(entry));
      continue;
    }
    const marker = readMarker(layout.marker(entry));
    if (!recordedAt(marker, entry) || !lstatOrUndefined(layout.target(entry))?.isDirectory())
      return undefined;
    toHash.push([entry, marker]);
  }
  for (const [entry, marker] of toHash) {
    if (!intact(layout.target(entry), marker, fingerprintKey(entry), fingerprints)) return undefined;
    const { list, name, ref } = entry;
    outcome.results.push({ list, name, ref, digest: marker.digest, action: "unchanged" });
  }
  return outcome;
}

/** Reports a run that writes nothing as the locked run would have, and returns its result. */
export function reportUnchanged(planned: PlannedEntry[], outcome: Outcome, progress: Progress): StageResult {
  try {
    progress.start(planned.length);
    for (const r of outcome.results) progress.entryDone(labelOf(r), "unchanged", 0);
    for (const s of outcome.skipped) progress.warn(skipWarning(s));
    for (const f of outcome.failures) progress.entryFailed(labelOf(f), f.message, sourceOf(f));
    return finish(planned, outcome);
  } finally {
    progress.stop();
  }
}
