/**
 * describe(): a repository's facts from its tag listing, the tags the plan resolves, and the dates of
 * the images behind them. Requests run a few at a time (p-limit), and the first failure aborts the rest,
 * so no request of a repository already known to fail keeps retrying.
 */
import { setMaxListeners } from "node:events";
import pLimit from "p-limit";
import type { RepositoryFacts } from "../types";
import type { RegistryClient } from "./client";
import { follow, type Io, NEVER, unexpectedFailure } from "./context";
import type { ImageDates, Lookup, Run } from "./images";
import { factsOf, planTags, type Resolved, type TagPlan } from "./plan";
import { confirmGone, listTags, tagDigest } from "./tags";

/** A repository the registry does not know (or no longer knows by the second listing). */
const absent = (): RepositoryFacts => ({ exists: false, imageCount: 0, newestPush: null, tags: {} });

export interface Describer {
  client: RegistryClient;
  dates: ImageDates;
  /** Manifest and config requests in flight at once. */
  concurrency: number;
}

export async function describeRepository(
  d: Describer,
  repository: string,
  wanted: string[],
  outer?: AbortSignal,
): Promise<RepositoryFacts> {
  // Aborted on the first failure, so the other requests of this repository stop instead of retrying on,
  // and by the caller's signal.
  const abort = new AbortController();
  // Each request in flight (and each backoff) listens to it.
  setMaxListeners(0, abort.signal);
  const unfollow = follow(outer, abort);
  const io: Io = { signal: abort.signal, shared: outer ?? NEVER };
  try {
    const listed = await listTags(d.client, repository, io);
    if (listed === null) return absent();
    const names = [...new Set(listed)];
    const plan = planTags(names, wanted);
    const found = await resolveTags(d, plan, {
      repository,
      run: limited(d.concurrency, io.signal),
      fetched: new Map(),
      io,
    });
    if (found.unserved.length > 0 && !(await confirmGone(d.client, repository, found.unserved, io))) {
      return absent();
    }
    return factsOf(plan, names, found, wanted);
  } catch (err) {
    abort.abort();
    throw unexpectedFailure(d.client.host, err, repository, "describe");
  } finally {
    unfollow();
  }
}

/** Each tag of the plan resolved, and the image behind each dated one dated once per digest. */
async function resolveTags(d: Describer, plan: TagPlan, lookup: Lookup): Promise<Resolved> {
  const found: Resolved = { digestOf: new Map(), dateOf: new Map(), unserved: [] };
  const dates = new Map<string, Promise<Date | null>>();
  const { repository, run, fetched, io } = lookup;
  await Promise.all(
    plan.resolve.map(async (tag) => {
      const digest = await run(() => tagDigest(d.client, repository, tag, fetched, io, plan.dated.has(tag)));
      if (digest === undefined) {
        found.unserved.push(tag);
        return;
      }
      found.digestOf.set(tag, digest);
      if (!plan.dated.has(tag)) return;
      let date = dates.get(digest);
      if (!date) {
        date = d.dates.of(lookup, digest);
        dates.set(digest, date);
      }
      found.dateOf.set(digest, await date);
    }),
  );
  return found;
}

/** At most `n` requests at once; a queued one is dropped once `signal` aborts. */
function limited(n: number, signal: AbortSignal): Run {
  const limit = pLimit(n);
  return (fn) =>
    limit(() => {
      signal.throwIfAborted();
      return fn();
    });
}
