/**
 * The value at a path in parsed JSON, or undefined where the path leaves it. One walk for the manifest's
 * error messages (showing the offending value) and the PR report's property diffs.
 */
export function valueAt(root: unknown, path: readonly PropertyKey[], opaque?: unknown): unknown {
  let value = root;
  for (const key of path) {
    // Below an opaque value (the report's redaction marker) everything is that value too.
    if (opaque !== undefined && value === opaque) return opaque;
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
