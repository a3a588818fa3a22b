/**
 * npm run bench:shared-cache: what the registry cache saves a builder that has lost its own. On the real
 * engine and the local stack: builder A builds both images and exports the registry cache
 * (<repository>:buildcache); then the builder's local cache is pruned, as on a fresh runner, and the same
 * commit is built again, once reading that cache and once without it. Prints a table and writes
 * bench/out/shared-cache.json. Needs what the end-to-end tier needs (root on Linux, `npm run engine`).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  localStackConfig,
  type RealStack,
  realTierUnavailable,
  startRealStack,
  writeStackConfig,
} from "../test/support/real-stack";
import { machineSize } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { runBench } from "./lib/run";
import { markdownTable } from "./lib/table";

/** Busy-loop iterations of the stand-in compile step (about 10 s in busybox sh on these machines). */
const COMPILE_LOOPS = 4_000_000;

/**
 * The stack's config with the platform image built from a copy of its Dockerfile that compiles: the sample
 * base only copies small files, which no cache can speed up, while the platform's builder stage compiles for
 * minutes. A CPU-bound step in the same stage stands in for it.
 */
function configWithCompileStep(world: RealStack) {
  const dockerfile = join(world.dir, "sample-platform", "workspace-server", "Dockerfile");
  writeFileSync(
    `${dockerfile}.bench`,
    readFileSync(dockerfile, "utf8").replace(
      "ARG GIT_SHA=dev\n",
      `ARG GIT_SHA=dev\nRUN i=0; while [ "$i" -lt ${COMPILE_LOOPS} ]; do i=$((i+1)); done\n`,
    ),
  );
  const config = localStackConfig(world, "6".repeat(40));
  config.images = (config.images as Array<Record<string, unknown>>).map((image) =>
    image.name === "platform" ? { ...image, dockerfile: "workspace-server/Dockerfile.bench" } : image,
  );
  return config;
}

/** `pulumi up` of one stack: its wall time and how many build steps came from a cache. */
async function build(
  world: RealStack,
  config: Record<string, unknown>,
  stack: string,
  cache: boolean,
  init = true,
) {
  if (init) await world.pulumi(["stack", "init", stack]);
  writeStackConfig(world, stack, {
    ...config,
    tagPrefix: stack.replace(/[^a-z0-9]/g, ""),
    cache: String(cache),
  });
  const t0 = performance.now();
  const r = await world.pulumi(["up", "--stack", stack, "--yes", "--skip-preview"]);
  const seconds = (performance.now() - t0) / 1000;
  const log = r.stdout + r.stderr;
  if (r.code !== 0) throw new Error(`pulumi up --stack ${stack} failed:\n${log.slice(-3000)}`);
  return { seconds, cachedSteps: (log.match(/#\d+ CACHED/g) ?? []).length };
}

async function main(): Promise<number> {
  const unavailable = realTierUnavailable();
  if (unavailable) {
    console.error(`bench:shared-cache cannot run here: ${unavailable}`);
    return 2;
  }
  const world = await startRealStack("bench-seed");
  try {
    const config = configWithCompileStep(world);
    // Empties the builder's local cache, as on a fresh runner.
    const prune = () =>
      execFileSync(
        world.engine.buildctl ?? "buildctl",
        ["--addr", world.builder.endpoint, "prune", "--all"],
        {
          stdio: "ignore",
        },
      );
    const seed = await build(world, config, "bench-seed", true, false);
    prune();
    const shared = await build(world, config, "bench-shared", true);
    prune();
    const cold = await build(world, config, "bench-cold", false);
    const machine = machineSize();
    const rows = [
      { run: "A: first build, exports the registry cache", ...seed },
      { run: "B: empty local cache, reads the registry cache", ...shared },
      { run: "B: empty local cache, no registry cache", ...cold },
    ];
    console.log(
      `\nshared registry cache, local stack, both images, a ${COMPILE_LOOPS}-iteration compile stand-in in the base (${machine.cores} cores, ${machine.memoryGiB} GiB)\n`,
    );
    const table = markdownTable(
      ["run", "wall time (pulumi up)", "steps served from cache"],
      rows.map((r) => [r.run, `${r.seconds.toFixed(1)} s`, String(r.cachedSteps)]),
    );
    for (const line of table) console.log(line);
    console.log(
      `\nwith the shared cache: ${(cold.seconds / shared.seconds).toFixed(2)}x faster than without`,
    );
    await writeOutJson("shared-cache.json", { machine, rows });
    return 0;
  } finally {
    await world.stop();
  }
}

runBench(main);
