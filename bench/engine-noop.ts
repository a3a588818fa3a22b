/**
 * npm run bench:engine-noop: what a no-op `pulumi preview` and `pulumi up` cost on the real engine and the
 * local stack, part by part (bench/engine-noop/breakdown.ts), on the 5-file sample platform and on a
 * generated platform-sized checkout; and the program run three ways (before this branch's lazy @pulumi/aws,
 * as it is, compiled ahead). Runs interleave (each round cycles the variants in a rotated order) and every
 * figure is a median, because the machine is shared. Prints the tables and writes bench/out/engine-noop.json.
 * Needs what the end-to-end tier needs (root on Linux, `npm run engine`).
 * Options: --runs N (rounds, default 3), --files N (default 6000), --dirs N (default 600).
 */
import { parseArgs } from "node:util";
import { realTierUnavailable } from "../test/support/real-stack";
import { COMMANDS, measureRun, type NoopRun } from "./engine-noop/measure";
import { cells, partsTable, STAGING_GOAL, variantTable } from "./engine-noop/report";
import { startNoopWorld, TREES, VARIANTS } from "./engine-noop/world";
import { intOption } from "./lib/args";
import { machineSize } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { runBench } from "./lib/run";

async function main(): Promise<number> {
  const unavailable = realTierUnavailable();
  if (unavailable) {
    console.error(`bench:engine-noop cannot run here: ${unavailable}`);
    return 2;
  }
  const { values } = parseArgs({
    options: { runs: { type: "string" }, files: { type: "string" }, dirs: { type: "string" } },
  });
  const rounds = intOption("runs", values.runs ?? "3", 1);
  const files = intOption("files", values.files ?? "6000", 1);
  const dirs = intOption("dirs", values.dirs ?? "600", 1);
  console.error(`bench:engine-noop: starting the stack, a ${files}-file tree and two first ups…`);
  const world = await startNoopWorld({ files, dirs });
  const runs: NoopRun[] = [];
  try {
    for (let round = 0; round < rounds; round++)
      for (const command of COMMANDS)
        for (const tree of TREES)
          for (let i = 0; i < VARIANTS.length; i++) {
            const variant = VARIANTS[(i + round) % VARIANTS.length] ?? VARIANTS[0];
            const r = await measureRun(world, command, tree, variant);
            console.error(`  round ${round + 1}: ${command} ${tree} (${variant}): ${r.wallMs} ms`);
            runs.push(r);
          }
  } finally {
    await world.stack.stop();
  }
  const machine = machineSize();
  const all = cells(runs);
  const t = world.platformTree;
  console.log(
    `\nno-op runs on the real engine, local stack, median of ${rounds} (${machine.cores} cores, ${machine.memoryGiB} GiB); platform tree: ${t.files} files in ${t.dirs} folders, ${(t.bytes / 2 ** 20).toFixed(1)} MiB, plus its .git\n`,
  );
  for (const line of partsTable(all, VARIANTS[2])) console.log(line);
  console.log("");
  for (const line of variantTable(all)) console.log(line);
  const over = all.filter((c) => c.stagingShare > STAGING_GOAL);
  console.log(
    over.length === 0 ? "\nstaging ≤ 10 % of every no-op: yes" : `\nstaging over 10 %: ${over.length} cells`,
  );
  await writeOutJson("engine-noop.json", { machine, rounds, platformTree: t, cells: all, runs });
  return over.length === 0 ? 0 : 1;
}

runBench(main);
