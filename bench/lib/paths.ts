/** Where every bench runs its commands from and leaves its numbers. */
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(__dirname, "..", "..");
/** Raw numbers, one JSON file a bench (git-ignored). */
export const OUT_DIR = join(REPO_ROOT, "bench", "out");
/** Exactly what `npm run stage` runs (minus npm itself): one node process with tsx as a loader. */
export const STAGE_CLI = [process.execPath, "--import", "tsx", "cli/stage.ts"] as const;
