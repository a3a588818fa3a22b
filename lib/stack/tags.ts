/**
 * The tags the pipeline gives an image, named once: the lifecycle policy, the mutability exclusions, the
 * build and the drift check must agree on them, or a policy expires what the build just pushed.
 */

/** The registry build cache's tag in every repository. */
export const CACHE_TAG = "buildcache";

/** `<prefix>-latest`: moves to each new build; never expired. */
export const movingTag = (tagPrefix: string) => `${tagPrefix}-latest`;

/** `<prefix>-<first 7 of the commit>`: immutable once pushed. */
export const commitTag = (tagPrefix: string, gitSha: string) => `${tagPrefix}-${gitSha.slice(0, 7)}`;

/** What one build pushes: the commit's own tag, then the moving one. */
export function tagsFor(tagPrefix: string, gitSha: string): string[] {
  return [commitTag(tagPrefix, gitSha), movingTag(tagPrefix)];
}
