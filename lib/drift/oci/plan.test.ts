import { describe, expect, it } from "vitest";
import { CACHE_TAG } from "../types";
import { factsOf, isLatestTag, MAX_LATEST_TAGS, planTags, RESOLVE_ALL_MAX_TAGS, type Resolved } from "./plan";

const many = (n: number) => Array.from({ length: n }, (_, i) => `staging-${String(i).padStart(7, "0")}`);
const OLD = new Date("2025-12-01T00:00:00Z");
const NEW = new Date("2026-01-05T00:00:00Z");

function resolved(
  digestOf: Record<string, string>,
  dateOf: Record<string, Date | null>,
  unserved: string[] = [],
) {
  return { digestOf: new Map(Object.entries(digestOf)), dateOf: new Map(Object.entries(dateOf)), unserved };
}

describe("planTags", () => {
  it("a small repository: every tag resolved, all but the cache tag dated", () => {
    const plan = planTags(["a", CACHE_TAG, "b"], []);
    expect(plan).toEqual({ all: true, resolve: ["a", CACHE_TAG, "b"], dated: new Set(["a", "b"]) });
    expect(planTags(many(RESOLVE_ALL_MAX_TAGS), []).all).toBe(true);
  });

  it("a large one: the listed tags asked for and the first latest tags, never the cache tag dated", () => {
    const names = [...many(RESOLVE_ALL_MAX_TAGS), "latest", "staging-latest", CACHE_TAG];
    const plan = planTags(names, ["staging-0000003", "absent", CACHE_TAG]);
    expect(plan.all).toBe(false);
    expect(plan.resolve.sort()).toEqual([CACHE_TAG, "latest", "staging-0000003", "staging-latest"].sort());
    expect(plan.dated).toEqual(new Set(["staging-0000003", "latest", "staging-latest"]));
  });

  it("caps the latest tags at MAX_LATEST_TAGS, in listing order", () => {
    const latest = Array.from({ length: MAX_LATEST_TAGS + 3 }, (_, i) => `env${i}-latest`);
    const plan = planTags([...many(RESOLVE_ALL_MAX_TAGS), ...latest], []);
    expect(plan.resolve).toEqual(latest.slice(0, MAX_LATEST_TAGS));
  });

  it("with nothing to resolve, probes one listed tag that is not the cache tag, undated", () => {
    const plan = planTags([CACHE_TAG, ...many(RESOLVE_ALL_MAX_TAGS + 1)], ["absent"]);
    expect(plan.resolve).toEqual(["staging-0000000"]);
    expect(plan.dated.size).toBe(0);
  });

  it("isLatestTag: latest and *-latest only", () => {
    expect(["latest", "staging-latest"].every(isLatestTag)).toBe(true);
    expect(["latest-1", "staginglatest", "latests"].some(isLatestTag)).toBe(false);
  });
});

describe("factsOf", () => {
  it("a small repository counts distinct digests and takes the newest dated image", () => {
    const plan = planTags(["a", "b", CACHE_TAG], []);
    const found = resolved({ a: "d1", b: "d2", [CACHE_TAG]: "d3" }, { d1: OLD, d2: NEW });
    expect(factsOf(plan, ["a", "b", CACHE_TAG], found, ["b", "gone"])).toEqual({
      exists: true,
      imageCount: 3,
      newestPush: NEW,
      tags: { b: "d2" },
    });
  });

  it("one dated image of unknown age makes the age unknown", () => {
    const plan = planTags(["a", "b"], []);
    expect(
      factsOf(plan, ["a", "b"], resolved({ a: "d1", b: "d2" }, { d1: NEW, d2: null }), []).newestPush,
    ).toBeNull();
  });

  it("a large repository counts listed tags, less those deleted since the listing", () => {
    const names = [...many(RESOLVE_ALL_MAX_TAGS), "staging-latest"];
    const plan = planTags(names, ["staging-0000001"]);
    const found: Resolved = resolved({ "staging-latest": "d1" }, { d1: OLD }, ["staging-0000001"]);
    expect(factsOf(plan, names, found, ["staging-latest", "staging-0000001"])).toEqual({
      exists: true,
      imageCount: names.length - 1,
      imageCountUnit: "tags",
      newestPush: OLD,
      tags: { "staging-latest": "d1" },
    });
  });
});
