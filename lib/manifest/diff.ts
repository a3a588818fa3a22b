/**
 * Where two manifests disagree on what is staged: an image that copies one manifest while carrying the
 * templates of another claims pins it does not have, and the control plane believes the claim.
 */
import { entriesOf, type Manifest, type PlannedEntry } from "./contract";

const key = (e: PlannedEntry) => `${e.list}/${e.name}`;
const short = (ref: string) => ref.slice(0, 12);

/** One line per differing entry; empty when both pin the same repos at the same commits. */
export function manifestDifferences(
  claimed: Manifest,
  staged: Manifest,
  names: { claimed: string; staged: string },
): string[] {
  const theirs = new Map(entriesOf(claimed).map((e) => [key(e), e]));
  const ours = new Map(entriesOf(staged).map((e) => [key(e), e]));
  const out: string[] = [];
  for (const [k, e] of ours) {
    const other = theirs.get(k);
    if (!other) out.push(`${k}: staged from ${names.staged} but not listed in ${names.claimed}`);
    else if (other.repo !== e.repo)
      out.push(`${k}: ${names.claimed} says repo ${other.repo}, ${names.staged} stages ${e.repo}`);
    else if (other.ref !== e.ref)
      out.push(`${k}: ${names.claimed} pins ${short(other.ref)}, ${names.staged} stages ${short(e.ref)}`);
  }
  for (const k of theirs.keys()) {
    if (!ours.has(k)) out.push(`${k}: listed in ${names.claimed} but not staged from ${names.staged}`);
  }
  return out;
}
