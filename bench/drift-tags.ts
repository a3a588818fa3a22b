/**
 * npm run bench:drift-tags [-- --tags N]
 *
 * `npm run drift` (the real CLI process) against a registry whose one repository lists N tags (default
 * 100,000) in one tags/list page, as distribution 2.8.2 does: every tag points to one image, two of them
 * are the stack's. The registry is a small loopback server in this process (test/support/
 * misbehaving-registry.ts), counting requests. The CLI runs under /usr/bin/time for its wall time and peak
 * RSS. Prints them and writes bench/out/drift-tags.json.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DRIFT_V8_FLAGS } from "../lib/drift/v8-flags";
import { startTagListingRegistry } from "../test/support/misbehaving-registry";
import { intOption } from "./lib/args";
import { fmtSeconds } from "./lib/format";
import { briefMachine } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { REPO_ROOT } from "./lib/paths";
import { runBench } from "./lib/run";

const REPOSITORY = "molecule-ai/platform";

/** The stack's two tags first, then generated ones up to `count`. */
function tagList(count: number): string[] {
  const tags = ["staging-abc1234", "staging-latest"];
  for (let i = 0; tags.length < count; i++) tags.push(`staging-${i.toString(16).padStart(7, "0")}`);
  return tags;
}

/** `npm run drift --json` under /usr/bin/time: its exit code, stdout, wall time and peak RSS. */
async function timedDrift(outputs: string, timeFile: string) {
  const started = performance.now();
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((done) => {
    const child = spawn(
      "/usr/bin/time",
      [
        "-f",
        "%e %M",
        "-o",
        timeFile,
        process.execPath,
        ...DRIFT_V8_FLAGS,
        "--import",
        "tsx",
        "cli/drift.ts",
        "--outputs",
        outputs,
        "--json",
      ],
      { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (exit) => done({ code: exit, stdout: out }));
  });
  const wallMs = performance.now() - started;
  const [, maxRssKb] = readFileSync(timeFile, "utf8").trim().split(/\s+/);
  return { code, stdout, wallMs, maxRssKb: Number(maxRssKb) };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { tags: { type: "string", default: "100000" } } });
  const count = intOption("tags", values.tags, 2);
  const registry = await startTagListingRegistry({
    repository: REPOSITORY,
    tags: tagList(count),
    created: new Date(Date.now() - 86_400_000).toISOString(),
  });
  const dir = await mkdtemp(join(os.tmpdir(), "bench-drift-tags-"));
  try {
    const repository = `${registry.host}/${REPOSITORY}`;
    const outputs = join(dir, "outputs.json");
    await writeFile(
      outputs,
      JSON.stringify({
        images: {
          platform: {
            repository,
            digest: registry.digest,
            tags: [`${repository}:staging-abc1234`, `${repository}:staging-latest`],
          },
        },
      }),
    );
    const { code, stdout, wallMs, maxRssKb } = await timedDrift(outputs, join(dir, "time.txt"));
    const result = JSON.parse(stdout).results[0] as { status: string; detail: string };
    const byMethod: Record<string, number> = {};
    for (const r of registry.requests) byMethod[r.method] = (byMethod[r.method] ?? 0) + 1;

    const rssMb = maxRssKb / 1024;
    console.log(`drift against one repository listing ${count} tags (one tags/list page, loopback)`);
    console.log(`exit ${code}: ${result.status} (${result.detail})`);
    console.log(
      `wall ${fmtSeconds(wallMs)}, peak RSS ${rssMb.toFixed(0)} MB, ${registry.requests.length} requests ${JSON.stringify(byMethod)}`,
    );
    const file = await writeOutJson("drift-tags.json", {
      date: new Date().toISOString(),
      machine: briefMachine(),
      tags: count,
      exitCode: code,
      result,
      wallMs,
      peakRssBytes: maxRssKb * 1024,
      requests: registry.requests.length,
      requestsByMethod: byMethod,
    });
    console.log(`raw numbers: ${file}`);
    return 0;
  } finally {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
}

runBench(main);
