/**
 * npm run bench:engine: the engine's cold build, measured. Every recipe (Pulumi CLI, Node.js language host,
 * docker-build, BuildKit) is built one after another into an empty temporary cache (no module download, no
 * compiled package to reuse), as on a fresh machine. Prints a table of wall time and binary size per recipe,
 * plus the module and build caches the builds leave, and writes bench/out/engine.json. The installed engine
 * (~/.pulumi, the project's cache) is not touched.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { buildRecipe } from "../lib/local/engine/go-build";
import { recipes } from "../lib/local/engine/recipes";
import { formatDuration } from "../lib/local/progress";

const OUT = resolve(__dirname, "out");
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const du = (dir: string) => Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);

async function main(): Promise<void> {
  const cache = mkdtempSync(join(tmpdir(), "bench-engine-"));
  const rows: Array<{ recipe: string; version: string; seconds: number; binaries: Record<string, number> }> =
    [];
  try {
    for (const recipe of recipes()) {
      const record = await buildRecipe(cache, recipe);
      rows.push({
        recipe: recipe.id,
        version: recipe.version,
        seconds: record.seconds,
        binaries: record.binaries,
      });
    }
    const caches = { moduleCache: du(join(cache, "go", "mod")), buildCache: du(join(cache, "go", "build")) };
    const machine = {
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      go: execFileSync("go", ["version"], { encoding: "utf8" }).trim(),
    };
    console.log(`\nengine cold build (${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.go})\n`);
    console.log("| recipe | version | cold build | binaries |");
    console.log("|---|---|---|---|");
    for (const r of rows) {
      const bins = Object.entries(r.binaries)
        .map(([name, size]) => `${name} ${mib(size)}`)
        .join(", ");
      console.log(`| ${r.recipe} | ${r.version} | ${formatDuration(r.seconds * 1000)} | ${bins} |`);
    }
    const total = rows.reduce((s, r) => s + r.seconds, 0);
    console.log(`| total | | ${formatDuration(total * 1000)} | |`);
    console.log(
      `\nGo module cache ${mib(caches.moduleCache)}, Go build cache ${mib(caches.buildCache)} (shared by all recipes)`,
    );
    mkdirSync(OUT, { recursive: true });
    writeFileSync(
      join(OUT, "engine.json"),
      `${JSON.stringify({ machine, rows, caches, totalSeconds: total }, null, 2)}\n`,
    );
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`bench:engine: ${err.message}`);
  process.exitCode = 1;
});
