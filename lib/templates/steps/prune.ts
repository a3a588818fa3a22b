/**
 * Each list directory ends holding exactly the manifest's entries: entries no longer in it leave the tree
 * (the old script kept them forever), and so does anything else, dot-entries included (a .DS_Store would
 * otherwise be COPYed into the image), with the records of whatever is not an entry.
 */
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { LIST_DIRS, LISTS, type ListName, type Manifest } from "../../manifest/contract";
import { STATE_DIR } from "../destination";
import { type Layout, wantedNames } from "../layout";
import type { Progress } from "../progress";
import { type Marker, readMarker } from "../record";
import { labelOf, type Outcome, sourceOf } from "../result";
import { removeDir } from "./swap";

/** The names in a list directory that are not the manifest's entries (dot-entries included), sorted. */
export function strayNames(names: readonly string[], wanted: ReadonlySet<string>): string[] {
  return names.filter((name) => !wanted.has(name)).sort();
}

/** The files in a list's bookkeeping that are not a wanted entry's record, in the order given. */
export function strayRecords(files: readonly string[], wanted: ReadonlySet<string>): string[] {
  return files.filter((file) => !(file.endsWith(".json") && wanted.has(file.slice(0, -5))));
}

/**
 * Deletes what `strayNames` and `strayRecords` select. This run's own .tmp-/.old- names are gone by now
 * (every entry's work is done), and a killed run's were settled by recover().
 */
export function prune(layout: Layout, manifest: Manifest, outcome: Outcome, progress: Progress): void {
  for (const list of LISTS) {
    const wanted = wantedNames(manifest, list);
    for (const name of strayNames(readdirSync(layout.listDir(list)), wanted))
      pruneName(layout, list, name, outcome, progress);
    for (const file of strayRecords(readdirSync(layout.stateDir(list)), wanted)) {
      try {
        rmSync(join(layout.stateDir(list), file), { recursive: true, force: true });
      } catch (err) {
        const what = `its record ${STATE_DIR}/${list}/${file}`;
        failed(list, file.replace(/\.json$/, ""), what, err, outcome, progress);
      }
    }
  }
}

/** Deletes one stray name: an entry the manifest dropped is reported removed, a dot-entry only noted. */
function pruneName(layout: Layout, list: ListName, name: string, outcome: Outcome, progress: Progress): void {
  const marker = name.startsWith(".") ? undefined : readMarker(layout.marker({ list, name }));
  try {
    removeDir(join(layout.listDir(list), name));
  } catch (err) {
    failed(list, name, "it", err, outcome, progress, marker);
    return;
  }
  if (name.startsWith(".")) {
    progress.note(`${LIST_DIRS[list]}/${name}: removed (not a manifest entry)`);
    return;
  }
  outcome.results.push({ list, name, ref: marker?.ref ?? null, digest: null, action: "removed" });
  progress.entryDone(`${list}/${name}`, "removed", 0);
}

/**
 * A name that cannot be deleted fails as a name, like an entry: the rest of the sweep still runs, and the
 * document still says what this run did.
 */
function failed(
  list: ListName,
  name: string,
  what: string,
  err: unknown,
  outcome: Outcome,
  progress: Progress,
  marker?: Marker,
): void {
  const message = `not in the manifest, and ${what} could not be deleted: ${(err as Error).message ?? err}`;
  const failure = { list, name, repo: marker?.repo, ref: marker?.ref, message };
  outcome.failures.push(failure);
  progress.entryFailed(labelOf(failure), message, sourceOf(failure));
}
