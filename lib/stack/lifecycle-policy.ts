/**
 * The ECR lifecycle policy every image repository gets. Pure, so its rules are tested as data.
 *
 * ECR never lets a lower-priority rule expire an image that a higher-priority rule's tag selection
 * matched, so rule 1 selects the moving tags with a count no repository reaches: that is what "never
 * expired" means in ECR's vocabulary.
 */
import type { Retention } from "./config-schema";
import { CACHE_TAG, movingTag } from "./tags";

export function lifecyclePolicy(s: Retention): { rules: object[] } {
  return {
    rules: [
      {
        rulePriority: 1,
        description: `Never expire the moving tags (${movingTag(s.tagPrefix)}, ${CACHE_TAG})`,
        selection: {
          tagStatus: "tagged",
          tagPatternList: [movingTag(s.tagPrefix), CACHE_TAG],
          countType: "imageCountMoreThan",
          countNumber: 10000,
        },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        description: `Expire untagged images after ${s.untaggedExpireDays} days`,
        selection: {
          tagStatus: "untagged",
          countType: "sinceImagePushed",
          countUnit: "days",
          countNumber: s.untaggedExpireDays,
        },
        action: { type: "expire" },
      },
      {
        rulePriority: 3,
        description: `Keep the last ${s.keepTaggedImages} ${s.tagPrefix}- images`,
        selection: {
          tagStatus: "tagged",
          tagPrefixList: [`${s.tagPrefix}-`],
          countType: "imageCountMoreThan",
          countNumber: s.keepTaggedImages,
        },
        action: { type: "expire" },
      },
    ],
  };
}

/** Tags that may move: everything else (the per-commit tags) is immutable in the repository. */
export function mutableTagFilters(tagPrefix: string): Array<{ filterType: string; filter: string }> {
  return [
    { filterType: "WILDCARD", filter: movingTag(tagPrefix) },
    { filterType: "WILDCARD", filter: CACHE_TAG },
  ];
}
