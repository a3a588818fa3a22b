/**
 * Private entries whose host's token is not set: a failure naming the variable to set, or, with
 * --allow-missing-private, a skip that also clears what an earlier run staged for the entry.
 */
import { rmSync } from "node:fs";
import type { PlannedEntry } from "../../manifest/contract";
import { lstatOrUndefined } from "../destination";
import type { Layout } from "../layout";
import type { StageOptions } from "../options";
import type { Progress } from "../progress";
import { labelOf, type Outcome, type SkippedEntry } from "../result";
import { removeDir } from "./swap";

/** The variable each entry's token comes from: each provider's host has its own. */
export const tokenVariableOf = (entry: { provider?: string }) =>
  entry.provider === "github" ? "MOLECULE_GITHUB_TOKEN" : "MOLECULE_GITEA_TOKEN";

/** The entry is private and its host's token is not given. */
export const lacksToken = (entry: PlannedEntry, opts: StageOptions) =>
  entry.private && !(entry.provider === "github" ? opts.githubToken : opts.token);

export const privateNoToken = (entry: PlannedEntry) =>
  `private entry and ${tokenVariableOf(entry)} is not set (or pass --allow-missing-private to skip it)`;

export const skipOf = (entry: PlannedEntry): SkippedEntry => ({
  list: entry.list,
  name: entry.name,
  ref: entry.ref,
  reason: `private entry and no ${tokenVariableOf(entry)}`,
});

export const skipWarning = (s: SkippedEntry) =>
  `${labelOf(s)}: skipped (${s.reason}; --allow-missing-private)`;

/** Fails a private entry without its token, or skips it (--allow-missing-private) and clears it. */
export function skipPrivate(
  entry: PlannedEntry,
  opts: StageOptions,
  layout: Layout,
  outcome: Outcome,
  progress: Progress,
): void {
  if (!opts.allowMissingPrivate) throw new Error(privateNoToken(entry));
  // Stale content for a skipped entry must not reach an image as if it were current.
  const target = layout.target(entry);
  if (lstatOrUndefined(target)) removeDir(target);
  if (lstatOrUndefined(layout.marker(entry))) rmSync(layout.marker(entry), { force: true });
  const skip = skipOf(entry);
  outcome.skipped.push(skip);
  progress.warn(skipWarning(skip));
}
