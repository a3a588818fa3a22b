/**
 * Turns what a registry holds into exactly one status per image. Pure: the rules are tested as data.
 * The order of the checks is the order of severity: a missing repository explains everything after it.
 */
import type { DriftResult, ExpectedImage, RepositoryFacts } from "./types";

const DAY_MS = 86_400_000;

/** `<host>/<path>:<tag>` -> `<tag>`; a digest reference has no tag. */
export function tagOf(ref: string): string | undefined {
  const last = ref.slice(ref.lastIndexOf("/") + 1);
  const at = last.indexOf("@");
  const name = at === -1 ? last : last.slice(0, at);
  const colon = name.indexOf(":");
  return colon === -1 ? undefined : name.slice(colon + 1);
}

/** `<host>/<path>` -> { host, path }. */
export function splitRepository(url: string): { host: string; path: string } {
  const slash = url.indexOf("/");
  if (slash <= 0 || slash === url.length - 1) throw new Error(`not a repository URL (host/path): ${url}`);
  return { host: url.slice(0, slash), path: url.slice(slash + 1) };
}

const ageDays = (then: Date, now: Date) => Math.floor((now.getTime() - then.getTime()) / DAY_MS);

/** "3 image(s)", or "100000 tag(s)" when the backend counted tags (too many to resolve each). */
const counted = (facts: RepositoryFacts) =>
  `${facts.imageCount} ${facts.imageCountUnit === "tags" ? "tag(s)" : "image(s)"}`;

export function classify(
  expected: ExpectedImage,
  facts: RepositoryFacts,
  opts: { now: Date; maxAgeDays: number },
): DriftResult {
  const base = {
    image: expected.name,
    repository: expected.repository,
    newestPush: facts.newestPush?.toISOString() ?? null,
    imageCount: facts.exists ? facts.imageCount : null,
    expectedDigest: expected.digest,
    actualDigest: null as string | null,
  };
  if (!facts.exists) {
    return {
      ...base,
      status: "missing-repository",
      detail: `repository ${expected.repository} does not exist`,
    };
  }
  if (facts.imageCount === 0) {
    return { ...base, status: "empty", detail: "the repository exists and holds no images" };
  }
  const tags = expected.tags.map((ref) => tagOf(ref) ?? ref);
  const missing = tags.filter((tag) => facts.tags[tag] === undefined);
  if (missing.length > 0) {
    return {
      ...base,
      status: "missing-tag",
      detail: `expected tag${missing.length > 1 ? "s" : ""} absent: ${missing.join(", ")}`,
    };
  }
  const moved = tags.filter((tag) => facts.tags[tag] !== expected.digest);
  if (moved.length > 0) {
    const actual = facts.tags[moved[0] as string] ?? null;
    return {
      ...base,
      actualDigest: actual,
      status: "digest-drift",
      detail: `${moved.join(", ")} point${moved.length > 1 ? "" : "s"} to ${actual}, the stack recorded ${expected.digest}`,
    };
  }
  const actualDigest = facts.tags[tags[0] as string] ?? null;
  if (facts.newestPush === null) {
    // Unknown age is not a clean bill of health: the check could not establish freshness.
    return {
      ...base,
      actualDigest,
      status: "error",
      detail: "newest push time unknown (an image records no creation time)",
    };
  }
  const age = ageDays(facts.newestPush, opts.now);
  if (age > opts.maxAgeDays) {
    return {
      ...base,
      actualDigest,
      status: "stale",
      detail: `newest image pushed ${age} days ago (limit ${opts.maxAgeDays})`,
    };
  }
  return {
    ...base,
    actualDigest,
    status: "ok",
    detail: `${counted(facts)}, newest pushed ${age} day(s) ago`,
  };
}

/** A repository under the scanned prefix that the stack does not declare: how an orphan gets noticed. */
export function unmanaged(repository: string, facts: RepositoryFacts, now: Date): DriftResult {
  const newest = facts.newestPush
    ? `newest pushed ${ageDays(facts.newestPush, now)} day(s) ago`
    : facts.imageCountUnit === "tags"
      ? "newest push not determined (no latest tag among too many tags to resolve each)"
      : "no newest push";
  return {
    image: null,
    repository,
    status: "unmanaged",
    detail: `not declared by the stack: ${counted(facts)}, ${newest}`,
    newestPush: facts.newestPush?.toISOString() ?? null,
    imageCount: facts.imageCount,
    expectedDigest: null,
    actualDigest: null,
  };
}

export function failed(expected: { name: string | null; repository: string }, reason: string): DriftResult {
  return {
    image: expected.name,
    repository: expected.repository,
    status: "error",
    detail: reason,
    newestPush: null,
    imageCount: null,
    expectedDigest: null,
    actualDigest: null,
  };
}

/**
 * 0 all ok; 1 drift found; 2 anything could not be checked (never 0 for an unchecked repository), and
 * 2 when nothing was checked at all.
 */
export function exitCode(results: DriftResult[]): 0 | 1 | 2 {
  if (results.length === 0 || results.some((r) => r.status === "error")) return 2;
  return results.every((r) => r.status === "ok") ? 0 : 1;
}
