// Runs stage() in this process and prints, as one JSON line on stdout, its result and this process's
// own peak resident set (VmHWM from /proc/self/status): the stager's memory, without git's.
//
//   node --import tsx test/support/stage-rss.ts <manifest.json> <dest> <git-base-url>

import { readFileSync } from "node:fs";
import { parseManifest } from "../../lib/manifest/contract";
import { SILENT_PROGRESS } from "../../lib/templates/progress";
import { stage } from "../../lib/templates/stager";

async function main(): Promise<void> {
  const [manifestFile = "", dest = "", gitBaseUrl = ""] = process.argv.slice(2);
  const manifest = parseManifest(readFileSync(manifestFile, "utf8"), manifestFile);
  const result = await stage({ manifest, dest, gitBaseUrl, progress: SILENT_PROGRESS, concurrency: 1 });
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? 0);
  process.stdout.write(`${JSON.stringify({ result, hwmBytes: kib("VmHWM") * 1024 })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
