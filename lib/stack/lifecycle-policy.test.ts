import { describe, expect, it } from "vitest";
import { lifecyclePolicy, mutableTagFilters } from "./lifecycle-policy";

type Rule = {
  rulePriority: number;
  selection: {
    tagStatus: string;
    tagPatternList?: string[];
    tagPrefixList?: string[];
    countType: string;
    countNumber: number;
  };
};
const rules = (keep = 50, days = 7) =>
  lifecyclePolicy({ tagPrefix: "staging", untaggedExpireDays: days, keepTaggedImages: keep }).rules as Rule[];

describe("lifecyclePolicy", () => {
  it("protects the moving tags first, with a count no repository reaches", () => {
    const [first] = rules();
    expect(first?.rulePriority).toBe(1);
    expect(first?.selection.tagPatternList).toEqual(["staging-latest", "buildcache"]);
    expect(first?.selection.countNumber).toBeGreaterThanOrEqual(10_000);
  });

  it("expires untagged images after the configured days and keeps the configured number of commit tags", () => {
    const [, untagged, tagged] = rules(60, 3);
    expect(untagged?.selection).toMatchObject({
      tagStatus: "untagged",
      countType: "sinceImagePushed",
      countNumber: 3,
    });
    expect(tagged?.selection).toMatchObject({
      tagStatus: "tagged",
      tagPrefixList: ["staging-"],
      countType: "imageCountMoreThan",
      countNumber: 60,
    });
  });

  it("gives every rule a distinct, ascending priority (ECR rejects duplicates)", () => {
    expect(rules().map((r) => r.rulePriority)).toEqual([1, 2, 3]);
  });

  it("follows the tag prefix everywhere", () => {
    const text = JSON.stringify(
      lifecyclePolicy({ tagPrefix: "prod", untaggedExpireDays: 7, keepTaggedImages: 5 }),
    );
    expect(text).not.toContain("staging");
    expect(text).toContain("prod-latest");
  });
});

describe("mutableTagFilters", () => {
  it("lets only the moving tags move", () => {
    expect(mutableTagFilters("staging").map((f) => f.filter)).toEqual(["staging-latest", "buildcache"]);
  });
});
