/**
 * The old pipeline's clone loop, the baseline bench:stage beats: kept as a shell script because that is
 * what it was. Per entry, a full clone (no depth), a checkout of the pinned SHA, then deleting .git.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LIST_DIRS } from "../../lib/manifest/contract";
import type { FixtureEntry } from "./fixtures";
import type { Measured } from "./measure";

export interface BaselineEntry {
  entry: string;
  /** clone + checkout + deleting .git, as the old script did. */
  ms: number;
  objects: number;
}

export interface BaselineRun extends Measured {
  createMsPerFile: number;
  /** Wall time minus the object counting the bench added to the script. */
  wallExclCountingMs: number;
  objects: number;
  perEntry: BaselineEntry[];
}

/**
 * Object counting (for the report) is timed separately and subtracted. $EPOCHREALTIME is a bash builtin,
 * so timing costs no processes. Each entry prints "<dir>/<name> t0 t1 t2 t3 <objects>".
 */
export const OLD_SCRIPT = `set -euo pipefail
base=$1 dest=$2 list=$3
while IFS=$'\\t' read -r -u 3 dir name repo sha; do
  target="$dest/$dir/$name"
  mkdir -p "$dest/$dir"
  t0=$EPOCHREALTIME
  git clone --quiet "$base/$repo.git" "$target"
  git -C "$target" checkout --quiet "$sha"
  t1=$EPOCHREALTIME
  objects=$(git -C "$target" count-objects -v | sed -n 's/^in-pack: //p')
  t2=$EPOCHREALTIME
  rm -rf "$target/.git"
  t3=$EPOCHREALTIME
  echo "$dir/$name $t0 $t1 $t2 $t3 $objects"
done 3< "$list"
`;

/** The script's input: one "<dir>\t<name>\t<repo>\t<sha>" line per entry. */
export function oldScriptList(entries: FixtureEntry[]): string {
  return entries.map((e) => `${LIST_DIRS[e.list]}\t${e.name}\t${e.repo}\t${e.sha}\n`).join("");
}

/** Writes the script and its list into `dir`; returns the arguments that run it after `bash`. */
export async function writeOldScript(
  dir: string,
  entries: FixtureEntry[],
): Promise<(baseUrl: string, dest: string) => string[]> {
  const script = join(dir, "old-clone-script.sh");
  const listFile = join(dir, "old-clone-script.tsv");
  await writeFile(script, OLD_SCRIPT);
  await writeFile(listFile, oldScriptList(entries));
  return (baseUrl, dest) => [script, baseUrl, dest, listFile];
}

/** The script's timings per entry; throws unless it staged `expected` entries. */
export function parseBaseline(m: Measured, expected: number): Omit<BaselineRun, "createMsPerFile"> {
  const perEntry: BaselineEntry[] = [];
  let countingMs = 0;
  for (const line of m.stdout.split("\n")) {
    const [entry, a, b, c, d, objects] = line.split(" ");
    if (!entry || !a || !b || !c || !d) continue;
    const [ta, tb, tc, td] = [a, b, c, d].map((x) => Number(x) * 1000) as [number, number, number, number];
    perEntry.push({ entry, ms: tb - ta + (td - tc), objects: Number(objects) });
    countingMs += tc - tb;
  }
  if (perEntry.length !== expected) throw new Error(`old clone script staged ${perEntry.length} entries`);
  return {
    ...m,
    wallExclCountingMs: m.wallMs - countingMs,
    objects: perEntry.reduce((s, e) => s + e.objects, 0),
    perEntry,
  };
}
