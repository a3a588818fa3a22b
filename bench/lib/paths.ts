/** Where every bench runs its commands from and leaves its numbers. */
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(__dirname, "..", "..");
/** Raw numbers, one JSON file a bench (git-ignored). */
export const OUT_DIR = join(REPO_ROOT, "bench", "out");
/**
 * Exactly what `npm run stage` runs (minus npm itself): the compiled entry, which refuses to start when
 * dist/ is older than the sources (run `npm run build` first).
 */
export const STAGE_CLI = [process.execPath, join(REPO_ROOT, "dist", "cli", "stage.js")] as const;
