/** bench:drift's workload: repositories as the pipeline leaves them, pushed into a real registry. */
import pLimit from "p-limit";
import { CACHE_TAG, type RepositoryFacts } from "../../lib/drift/types";
import { type LocalRegistry, pushCacheImage, pushImage } from "../../test/support/oci-registry";

export interface Expected {
  repository: string;
  tags: string[];
  facts: RepositoryFacts;
}

/**
 * One repository as the pipeline leaves it: three builds (staging-<sha> each, the newest also
 * staging-latest) and the build cache. Dates are a day apart, the newest a week old.
 */
async function seed(registry: LocalRegistry, i: number): Promise<Expected> {
  const repository = `molecule-ai/service-${String(i).padStart(2, "0")}`;
  const shas = [0, 1, 2].map((b) => (i * 7919 + b * 104729).toString(16).padStart(7, "0").slice(-7));
  const week = Date.now() - 7 * 86_400_000;
  const created = [2, 1, 0].map((daysBefore) => new Date(week - daysBefore * 86_400_000).toISOString());
  const tags: Record<string, string> = {};
  for (const [b, sha] of shas.entries()) {
    const newest = b === shas.length - 1;
    const tagList = newest ? [`staging-${sha}`, "staging-latest"] : [`staging-${sha}`];
    const img = await pushImage(registry.url, repository, { tags: tagList, created: created[b] ?? null });
    for (const t of tagList) tags[t] = img.digest;
  }
  const cache = await pushCacheImage(registry.url, repository, CACHE_TAG);
  tags[CACHE_TAG] = cache.digest;
  return {
    repository,
    tags: Object.keys(tags),
    facts: { exists: true, imageCount: 4, newestPush: new Date(created[2] ?? 0), tags },
  };
}

/** Seeds `repos` repositories, four at a time. */
export function seedAll(registry: LocalRegistry, repos: number): Promise<Expected[]> {
  const limit = pLimit(4);
  return Promise.all(Array.from({ length: repos }, (_, i) => limit(() => seed(registry, i))));
}
