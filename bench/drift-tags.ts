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
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startTagListingRegistry } from "../test/support/misbehaving-registry";
import { runBench } from "./lib/run";

const REPO_ROOT = resolve(__dirname, "..");
const OUT_DIR = join(REPO_ROOT, "bench", "out");
const REPOSITORY = "molecule-ai/platform";

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { tags: { type: "string", default: "100000" } } });
  const count = Number(values.tags);
  if (!Number.isInteger(count) || count < 2) throw new Error(`bad --tags: ${values.tags}`);
  const tags = ["staging-abc1234", "staging-latest"];
  for (let i = 0; tags.length < count; i++) tags.push(`staging-${i.toString(16).padStart(7, "0")}`);

  const registry = await startTagListingRegistry({
    repository: REPOSITORY,
    tags,
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
    const timeFile = join(dir, "time.txt");
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
    const result = JSON.parse(stdout).results[0] as { status: string; detail: string };
    const byMethod: Record<string, number> = {};
    for (const r of registry.requests) byMethod[r.method] = (byMethod[r.method] ?? 0) + 1;

    const rssMb = Number(maxRssKb) / 1024;
    console.log(`drift against one repository listing ${count} tags (one tags/list page, loopback)`);
    console.log(`exit ${code}: ${result.status} (${result.detail})`);
    console.log(
      `wall ${(wallMs / 1000).toFixed(2)} s, peak RSS ${rssMb.toFixed(0)} MB, ${registry.requests.length} requests ${JSON.stringify(byMethod)}`,
    );
    await mkdir(OUT_DIR, { recursive: true });
    const file = join(OUT_DIR, "drift-tags.json");
    await writeFile(
      file,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: {
            node: process.version,
            cpus: os.cpus().length,
            platform: `${os.platform()} ${os.release()}`,
          },
          tags: count,
          exitCode: code,
          result,
          wallMs,
          peakRssBytes: Number(maxRssKb) * 1024,
          requests: registry.requests.length,
          requestsByMethod: byMethod,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`raw numbers: ${file}`);
    return 0;
  } finally {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
}

runBench(main);
