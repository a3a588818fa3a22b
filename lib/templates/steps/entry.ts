/**
 * One entry's staging, step by step: the warm check, then (unless the entry is private and has no token)
 * fetch, verify and write beside the target, swap it in, and record what was staged. A failure is the
 * entry's alone: it is reported and recorded, and the other entries go on.
 */
import { rmSync } from "node:fs";
import type { PlannedEntry } from "../../manifest/contract";
import { lstatOrUndefined } from "../destination";
import type { Fingerprints } from "../fingerprints";
import { redactUrl } from "../git/failure";
import type { Layout } from "../layout";
import type { StageOptions } from "../options";
import { markerOf, readMarker, writeAtomically } from "../record";
import { failureOf, labelOf, type Outcome, sourceOf } from "../result";
import { fetchEntry, SilentHostError } from "./fetch";
import { type StagePlan, sourceUrl } from "./plan";
import { lacksToken, skipPrivate } from "./private";
import { swapIn } from "./swap";
import { fingerprintKey, intact, warmVerdict } from "./warm";
import { makeWorkDir, writeEntry } from "./write";

export interface EntryContext {
  opts: StageOptions;
  plan: StagePlan;
  layout: Layout;
  outcome: Outcome;
  fingerprints: Fingerprints;
  /** Hosts (origins) that said nothing to every try of an entry, with that entry's label. */
  silentHosts: Map<string, string>;
}

/** Stages `entry`; never rejects: a failure goes into the outcome and to progress. */
export function stageEntry(entry: PlannedEntry, ctx: EntryContext): Promise<void> {
  return stageOrThrow(entry, ctx).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    ctx.outcome.failures.push(failureOf(entry, message));
    ctx.opts.progress.entryFailed(labelOf(entry), message, sourceOf(entry));
  });
}

async function stageOrThrow(entry: PlannedEntry, ctx: EntryContext): Promise<void> {
  const { opts, plan, layout, outcome, fingerprints } = ctx;
  const { progress } = opts;
  const label = labelOf(entry);
  const started = Date.now();
  const target = layout.target(entry);
  // Warm path: no git, no network, just proof that the tree on disk is the one recorded.
  const warm = warmVerdict(entry, readMarker(layout.marker(entry)), {
    present: () => lstatOrUndefined(target) !== undefined,
    intact: (marker) => intact(target, marker, fingerprintKey(entry), fingerprints),
  });
  if (warm.state === "unchanged") {
    const { list, name, ref } = entry;
    outcome.results.push({ list, name, ref, digest: warm.digest, action: "unchanged" });
    progress.entryDone(label, "unchanged", Date.now() - started);
    return;
  }
  if (warm.state === "damaged")
    progress.warn(`${label}: staged tree does not match its recorded digest (edited or damaged); re-staging`);
  if (lacksToken(entry, opts)) return skipPrivate(entry, opts, layout, outcome, progress);

  const url = sourceUrl(entry, opts);
  const origin = new URL(url).origin;
  const silentFor = ctx.silentHosts.get(origin);
  if (silentFor !== undefined)
    throw new Error(
      `not tried: ${redactUrl(origin)} gave no answer to ${silentFor} in any of its tries, and every entry on it would wait as long`,
    );
  progress.entryStarted(label);
  const dir = makeWorkDir(layout, entry);
  try {
    await fetchEntry(entry, url, dir.gitDir, plan, progress).catch((err: unknown) => {
      if (err instanceof SilentHostError && !ctx.silentHosts.has(origin)) ctx.silentHosts.set(origin, label);
      throw err;
    });
    const { digest, stat } = await writeEntry(entry, dir, plan.run);
    swapIn(dir.tree, target);
    writeAtomically(layout.marker(entry), markerOf(entry, digest));
    fingerprints.record(fingerprintKey(entry), digest, stat);
    outcome.results.push({ list: entry.list, name: entry.name, ref: entry.ref, digest, action: "fetched" });
    progress.entryDone(label, "fetched", Date.now() - started);
  } finally {
    rmSync(dir.work, { recursive: true, force: true });
  }
}
