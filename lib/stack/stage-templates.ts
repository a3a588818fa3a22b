/**
 * The program's template staging. It happens during program evaluation, in preview too, before any resource:
 * docker-build hashes each build context when it checks an image, and the Dockerfile gate reads the staged
 * trees, so both need the templates on disk first. Warm, it costs no network.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { Manifest } from "../manifest/contract";
import { userCacheDir } from "../os/cache-dir";
import { type Progress, SILENT_PROGRESS } from "../templates/progress";
import { type StageResult, stage } from "../templates/stager";
import type { StackConfig } from "./config-schema";
import { STAGED_MANIFEST } from "./dockerfile-gate";

/**
 * Staging progress as engine diagnostics: warnings only. Failures are not logged one by one: the run's
 * error lists them all, and a failure printed twice reads as two.
 */
const ENGINE_PROGRESS: Progress = {
  ...SILENT_PROGRESS,
  warn: (message) => pulumi.log.warn(`staging: ${message}`),
};

/** Writes `text` to `path` unless it already holds it; a rename, so a kill never leaves half a file. */
function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, "utf8") === text) return;
  } catch {
    // absent: write it
  }
  const tmp = `${path}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
}

export async function stageTemplates(
  config: StackConfig,
  manifest: Manifest,
  manifestText: string,
): Promise<StageResult> {
  const staged = await stage({
    manifest,
    dest: config.templatesPath,
    gitBaseUrl: config.gitBaseUrl,
    token: config.gitToken,
    githubToken: config.githubToken,
    progress: ENGINE_PROGRESS,
    fingerprintCache: userCacheDir(),
  });
  // The exact bytes the templates were staged from, for images that carry the manifest: its pins are then
  // the templates beside it by construction. Written into the templates dir, which the stager owns.
  if (config.stageManifest) writeIfChanged(join(config.templatesPath, STAGED_MANIFEST), manifestText);
  return staged;
}
