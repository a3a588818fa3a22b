/**
 * What a stage run reports: one result per entry (fetched, unchanged, removed or failed), the skipped
 * private entries, and an overall digest when nothing failed. The CLI prints it as JSON on stdout.
 */
import { createHash } from "node:crypto";
import { LIST_DIRS, type ListName, type PlannedEntry } from "../manifest/contract";

export type Action = "fetched" | "unchanged" | "removed" | "failed";

export interface EntryResult {
  list: ListName;
  name: string;
  ref: string | null;
  digest: string | null;
  action: Action;
  /** Why, for `failed` only. */
  error?: string;
}

export interface SkippedEntry {
  list: ListName;
  name: string;
  ref: string;
  reason: string;
}

export interface StageResult {
  digest: string;
  entries: EntryResult[];
  skipped: SkippedEntry[];
}

/**
 * What a failed run did, the same document: a failed run may already have replaced or removed entries,
 * and the next run would report those as unchanged (or not at all). No overall digest: what is staged
 * now is not the manifest's.
 */
export interface FailedStageResult {
  digest: null;
  entries: EntryResult[];
  skipped: SkippedEntry[];
}

export interface StageFailure {
  list: ListName;
  name: string;
  /** The entry's; absent for a name the manifest does not have (one the stager could not remove). */
  repo?: string;
  ref?: string;
  message: string;
}

export const labelOf = (e: { list: ListName; name: string }) => `${e.list}/${e.name}`;
export const sourceOf = (e: { repo?: string; ref?: string }) =>
  e.repo && e.ref ? `${e.repo} @ ${e.ref}` : undefined;

/** A manifest entry's failure. */
export const failureOf = (entry: PlannedEntry, message: string): StageFailure => ({
  list: entry.list,
  name: entry.name,
  repo: entry.repo,
  ref: entry.ref,
  message,
});

export class StageError extends Error {
  constructor(
    readonly failures: StageFailure[],
    readonly result: FailedStageResult,
  ) {
    super(
      `staging failed for ${failures.length} entr${failures.length === 1 ? "y" : "ies"}:\n${failures
        .map((f) => `  ${labelOf(f)}${sourceOf(f) ? ` (${sourceOf(f)})` : ""}: ${f.message}`)
        .join("\n")}`,
    );
    this.name = "StageError";
  }
}

/** What the steps of a run gather, in the order they happen. */
export interface Outcome {
  results: EntryResult[];
  skipped: SkippedEntry[];
  failures: StageFailure[];
}

/** Overall digest: the entries' digests under their staged paths, order-independent. */
export function combinedDigest(entries: Array<{ list: ListName; name: string; digest: string }>): string {
  const lines = entries.map((e) => `${LIST_DIRS[e.list]}/${e.name}\0${e.digest}\n`).sort();
  return `sha256:${createHash("sha256").update(lines.join("")).digest("hex")}`;
}

/**
 * The result, or a StageError carrying it with the failed entries among the rest: manifest order, names
 * the manifest does not have last (stable for diffs and logs).
 */
export function finish(planned: PlannedEntry[], { results, skipped, failures }: Outcome): StageResult {
  const entries: EntryResult[] = [
    ...results,
    ...failures.map((f) => ({
      list: f.list,
      name: f.name,
      ref: f.ref ?? null,
      digest: null,
      action: "failed" as const,
      error: f.message,
    })),
  ];
  const order = new Map(planned.map((e, i) => [labelOf(e), i]));
  const rank = (r: EntryResult) => order.get(labelOf(r)) ?? planned.length;
  entries.sort((a, b) => rank(a) - rank(b) || labelOf(a).localeCompare(labelOf(b)));
  if (failures.length > 0) throw new StageError(failures, { digest: null, entries, skipped });
  const staged = entries.flatMap((r) => (r.digest ? [{ list: r.list, name: r.name, digest: r.digest }] : []));
  return { digest: combinedDigest(staged), entries, skipped };
}
