/**
 * npm run bench:engine: the engine's cold build, measured. Every recipe (Pulumi CLI, Node.js language host,
 * docker-build, BuildKit) is built one after another into an empty temporary cache (no module download, no
 * compiled package to reuse), as on a fresh machine. Prints a table of wall time and binary size per recipe,
 * plus the module and build caches the builds leave, and writes bench/out/engine.json. The installed engine
 * (~/.pulumi, the project's cache) is not touched.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRecipe } from "../lib/local/engine/go-build";
import { recipes } from "../lib/local/engine/recipes";
import { formatDuration } from "../lib/local/progress";
import { fmtMiB } from "./lib/format";
import { machineSize } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { markdownTable } from "./lib/table";

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
      ...machineSize(),
      go: execFileSync("go", ["version"], { encoding: "utf8" }).trim(),
    };
    console.log(`\nengine cold build (${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.go})\n`);
    const total = rows.reduce((s, r) => s + r.seconds, 0);
    const cells = rows.map((r) => [
      r.recipe,
      r.version,
      formatDuration(r.seconds * 1000),
      Object.entries(r.binaries)
        .map(([name, size]) => `${name} ${fmtMiB(size)}`)
        .join(", "),
    ]);
    const table = markdownTable(
      ["recipe", "version", "cold build", "binaries"],
      [...cells, ["total", "", formatDuration(total * 1000), ""]],
    );
    for (const line of table) console.log(line);
    console.log(
      `\nGo module cache ${fmtMiB(caches.moduleCache)}, Go build cache ${fmtMiB(caches.buildCache)} (shared by all recipes)`,
    );
    await writeOutJson("engine.json", { machine, rows, caches, totalSeconds: total });
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`bench:engine: ${err.message}`);
  process.exitCode = 1;
});
