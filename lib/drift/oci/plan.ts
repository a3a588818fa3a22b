/**
 * The arithmetic of describe(): which listed tags to resolve (a HEAD each) and which of them date the
 * repository, and what the answers add up to. A small repository is resolved whole; in a large one only
 * the tags asked for and the latest ones are, so its cost does not grow with the listing.
 */
import { CACHE_TAG, type RepositoryFacts } from "../types";

/**
 * Up to this many listed tags, describe() resolves every one (a HEAD each): an exact image count and the
 * newest push over every tagged image. Above, it resolves the tags asked for and the latest ones only.
 */
export const RESOLVE_ALL_MAX_TAGS = 100;
/** Above RESOLVE_ALL_MAX_TAGS, at most this many `latest` / `*-latest` tags are resolved for the age. */
export const MAX_LATEST_TAGS = 8;

/** Which tags a describe() resolves, and which of those date the repository. */
export interface TagPlan {
  /** Every listed tag is resolved: the image count is exact, not a count of tags. */
  all: boolean;
  resolve: string[];
  dated: Set<string>;
}

/** What resolving the plan's tags found. */
export interface Resolved {
  digestOf: Map<string, string>;
  /** By digest; null for an image whose date is unknown. */
  dateOf: Map<string, Date | null>;
  /** Listed tags whose manifest answered 404, confirmed deleted since the listing. */
  unserved: string[];
}

/** `latest`, `staging-latest` and the like: the moving tags that name a repository's newest build. */
export function isLatestTag(tag: string): boolean {
  return tag === "latest" || tag.endsWith("-latest");
}

/** The plan for the distinct listed tags `names`, when the tags `wanted` are asked for. */
export function planTags(names: string[], wanted: string[]): TagPlan {
  if (names.length <= RESOLVE_ALL_MAX_TAGS) {
    // Every tag resolved, every image but the cache tag's dated.
    return { all: true, resolve: names, dated: new Set(names.filter((t) => t !== CACHE_TAG)) };
  }
  return { all: false, ...someTags(names, wanted) };
}

/**
 * A large repository: the tags asked for and the first MAX_LATEST_TAGS latest tags, all listed ones,
 * dated but the cache tag. With none of them listed, one listed tag is resolved (not dated), so a count
 * is never taken on the listing's word alone.
 */
function someTags(names: string[], wanted: string[]): Omit<TagPlan, "all"> {
  const listed = new Set(names);
  const inspect = new Set(wanted.filter((t) => listed.has(t)));
  let latest = 0;
  for (const tag of names) {
    if (latest >= MAX_LATEST_TAGS) break;
    if (isLatestTag(tag) && tag !== CACHE_TAG) {
      inspect.add(tag);
      latest++;
    }
  }
  const dated = new Set([...inspect].filter((t) => t !== CACHE_TAG));
  if (inspect.size === 0) {
    const probe = names.find((t) => t !== CACHE_TAG) ?? names[0];
    if (probe !== undefined) inspect.add(probe);
  }
  return { resolve: [...inspect], dated };
}

/** The newest date over the dated tags' images; null if none, or if any of them is unknown. */
export function newestPushOf(plan: TagPlan, found: Resolved): Date | null {
  let newest: Date | null = null;
  for (const [tag, digest] of found.digestOf) {
    if (!plan.dated.has(tag)) continue;
    const date = found.dateOf.get(digest) ?? null;
    if (date === null) return null;
    if (newest === null || date > newest) newest = date;
  }
  return newest;
}

/** The facts of an existing repository listing `names`, for the tags `wanted`. */
export function factsOf(plan: TagPlan, names: string[], found: Resolved, wanted: string[]): RepositoryFacts {
  const newestPush = newestPushOf(plan, found);
  const tags: Record<string, string> = {};
  for (const tag of wanted) {
    const digest = found.digestOf.get(tag);
    if (digest !== undefined) tags[tag] = digest;
  }
  if (plan.all) return { exists: true, imageCount: new Set(found.digestOf.values()).size, newestPush, tags };
  // The deleted-since-listing tags are not counted.
  const imageCount = names.length - found.unserved.length;
  return { exists: true, imageCount, imageCountUnit: "tags", newestPush, tags };
}
