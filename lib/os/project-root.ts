/**
 * The package's root directory, from wherever the code runs: the sources (`lib/…`) or their build
 * (`dist/lib/…`). Files read by path (sample-templates/, node_modules/, .local/) live beside package.json,
 * never inside dist/, so a fixed number of `..` would be right in one of the two places only.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The nearest directory at or above `from` that holds a package.json (dist/ holds none). */
export function findProjectRoot(from: string, exists: (path: string) => boolean = existsSync): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (exists(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json at or above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(__dirname);
