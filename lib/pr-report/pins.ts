/**
 * Template pins: which manifest entries moved between the base branch and the PR. Pure (callers read the
 * files); manifests go through parseManifest, so a PR that breaks the manifest fails here too.
 */
import { entriesOf, type Manifest } from "../manifest/contract";

export interface Pin {
  /** `<list>/<name>`: names are unique only within a list. */
  key: string;
  list: string;
  name: string;
  repo?: string;
  ref: string;
}

export interface PinChange {
  kind: "changed" | "added" | "removed";
  key: string;
  list: string;
  name: string;
  repo?: string;
  oldRef?: string;
  newRef?: string;
}

/** The 7-character form reviewers know from git. */
export const short = (sha: string | undefined): string => (sha ? sha.slice(0, 7) : "");

export function pinsFromManifest(manifest: Manifest): Pin[] {
  return entriesOf(manifest).map((e) => ({
    key: `${e.list}/${e.name}`,
    list: e.list,
    name: e.name,
    repo: e.repo,
    ref: e.ref,
  }));
}

/** The templates record (lib/stack/templates-record.ts): a dynamic resource, told apart by its name. */
export const RECORD_TYPE = "pulumi-nodejs:dynamic:Resource";
export const RECORD_NAME = "templates-record";

/**
 * The pins the stack last recorded: the templates record's `entries` output (`[{ list, name, ref, digest }]`,
 * what was staged; a removed entry is absent) in the preview's old state. It stands in for `--base-manifest`
 * when only `--manifest` is given. Undefined when the output is absent or not that shape.
 */
export function pinsFromRecord(entries: unknown): Pin[] | undefined {
  if (!Array.isArray(entries)) return undefined;
  const pins: Pin[] = [];
  for (const e of entries as Array<Record<string, unknown>>) {
    if (typeof e?.list !== "string" || typeof e.name !== "string" || typeof e.ref !== "string") continue;
    pins.push({ key: `${e.list}/${e.name}`, list: e.list, name: e.name, ref: e.ref });
  }
  return pins;
}

/** Changes in the head's order, then removals in the base's order: the order reviewers read the manifest in. */
export function comparePins(base: Pin[], head: Pin[]): PinChange[] {
  const before = new Map(base.map((p) => [p.key, p]));
  const after = new Set(head.map((p) => p.key));
  const changes: PinChange[] = [];
  for (const pin of head) {
    const old = before.get(pin.key);
    const common = { key: pin.key, list: pin.list, name: pin.name, repo: pin.repo ?? old?.repo };
    if (!old) changes.push({ kind: "added", ...common, newRef: pin.ref });
    else if (
      old.ref !== pin.ref ||
      (old.repo !== undefined && pin.repo !== undefined && old.repo !== pin.repo)
    )
      changes.push({ kind: "changed", ...common, oldRef: old.ref, newRef: pin.ref });
  }
  for (const pin of base) {
    if (!after.has(pin.key)) {
      changes.push({
        kind: "removed",
        key: pin.key,
        list: pin.list,
        name: pin.name,
        repo: pin.repo,
        oldRef: pin.ref,
      });
    }
  }
  return changes;
}

/** "platform-agent e5c8302 → 1a2b3c4", "+hermes ca7e1ef", "−codex 070447a": the compact form for one line. */
export function describePinChange(change: PinChange): string {
  if (change.kind === "added") return `+${change.name} ${short(change.newRef)}`;
  if (change.kind === "removed") return `−${change.name} ${short(change.oldRef)}`;
  return `${change.name} ${short(change.oldRef)} → ${short(change.newRef)}`;
}
