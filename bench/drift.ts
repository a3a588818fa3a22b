/**
 * npm run bench:drift [-- --repos N --runs N --latency-ms N --concurrency N --max-in-flight N]
 *
 * The OCI drift backend describing a realistic set of repositories: all of them one after another, all
 * through a pool of workers, and each one alone (the goal compares the pool with the slowest of those).
 * The registry is a real CNCF distribution 2.8.2 (`docker-registry`) on 127.0.0.1 with its storage in a
 * temp dir; images are pushed through its HTTP API. The backend talks to it through a loopback proxy in
 * its own process (bench/drift/remote.ts) adding a fixed delay to every request: on bare loopback a round
 * trip is free, which would hide exactly what concurrency buys against a remote registry. Two setups,
 * each timed: "remote" (the goal's), where the proxy answers from the registry's recorded answers, so
 * the registry's CPU is not on the check's cores, as with ECR; and "co-located", where every request
 * reaches the registry on the same two cores.
 *
 * Every check uses a fresh backend and a fresh listener (as each CLI run is a fresh process), so no
 * check profits from another's caches or connections. Every check must return the expected facts for
 * every repository, or the bench fails. Prints tables and writes the raw numbers to bench/out/drift.json.
 */

import { parseArgs } from "node:util";
import { DEFAULT_DRIFT_CONCURRENCY } from "../lib/drift/check";
import { OCI_DEFAULTS } from "../lib/drift/oci";
import { DRIFT_V8_FLAGS, missingDriftFlags } from "../lib/drift/v8-flags";
import { type LocalRegistry, startRegistry } from "../test/support/oci-registry";
import { type Figures, figures, GOAL_RATIO, type Run, type SingleRun } from "./drift/figures";
import { measureCheck, type Setup } from "./drift/measure";
import type { RemoteMode } from "./drift/remote";
import { type Remote, startRemote } from "./drift/remote-host";
import { type Expected, seedAll } from "./drift/seed";
import { printSummary } from "./drift/summary";
import { intOption } from "./lib/args";
import { briefMachine } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { runBench } from "./lib/run";
import { cleanUpOnSignal } from "./lib/signals";

interface Options {
  repos: number;
  runs: number;
  latencyMs: number;
  concurrency: number;
  maxInFlight: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      repos: { type: "string", default: "50" },
      runs: { type: "string", default: "3" },
      "latency-ms": { type: "string", default: "20" },
      concurrency: { type: "string", default: String(DEFAULT_DRIFT_CONCURRENCY) },
      "max-in-flight": { type: "string", default: String(OCI_DEFAULTS.maxInFlight) },
    },
  });
  return {
    repos: intOption("repos", values.repos, 1),
    runs: intOption("runs", values.runs, 1),
    latencyMs: intOption("latency-ms", values["latency-ms"], 0),
    concurrency: intOption("concurrency", values.concurrency, 1),
    maxInFlight: intOption("max-in-flight", values["max-in-flight"], 1),
  };
}

type Mode = Run["mode"] | "single";
const MODES: Mode[] = ["serial", "pool", "single"];

/**
 * A warm-up of each mode (not counted: JIT, first connections to the registry), then rounds in rotating
 * order, so no mode always runs on a machine another just warmed or loaded.
 */
async function rounds(setup: Setup, expected: Expected[], opts: Options) {
  const runs: Run[] = [];
  const singles: SingleRun[] = [];
  const once = async (mode: Mode, round: number) => {
    if (mode === "single") {
      for (const e of expected) {
        const m = await measureCheck(setup, [e], opts.concurrency);
        if (round >= 0) singles.push({ round, repository: e.repository, ...m });
      }
      return;
    }
    const m = await measureCheck(setup, expected, mode === "serial" ? 1 : opts.concurrency);
    if (round >= 0) runs.push({ mode, ...m });
  };
  for (const mode of MODES) await once(mode, -1);
  for (let r = 0; r < opts.runs; r++) {
    for (let i = 0; i < MODES.length; i++) await once(MODES[(r + i) % MODES.length] as Mode, r);
  }
  return { runs, singles };
}

async function main(): Promise<number> {
  const opts = parseOptions();
  // Measured in this process, so it must be set up as `npm run drift` is, or the figures are another program's.
  const missing = missingDriftFlags(process.execArgv);
  if (missing.length > 0) {
    throw new Error(
      `node runs without ${missing.join(" ")}, which npm run drift sets: use npm run bench:drift`,
    );
  }
  let registry: LocalRegistry | undefined;
  let remote: Remote | undefined;
  // Ctrl-C must not leave the registry (or its temp dir) behind.
  const stopHandling = cleanUpOnSignal(async () => {
    await remote?.stop();
    await registry?.stop();
  });
  try {
    registry = await startRegistry();
    const t0 = performance.now();
    const expected = await seedAll(registry, opts.repos);
    const seedMs = performance.now() - t0;
    remote = await startRemote(registry.url, opts.latencyMs);
    const measured = new Map<RemoteMode, Figures>();
    for (const mode of ["remote", "co-located"] as const) {
      const { runs, singles } = await rounds({ remote, mode, maxInFlight: opts.maxInFlight }, expected, opts);
      const f = figures(runs, singles, opts.repos);
      measured.set(mode, f);
      printSummary({ ...opts, mode }, seedMs, f);
      console.log("");
    }
    const goal = measured.get("remote") as Figures;
    const file = await writeOutJson("drift.json", {
      date: new Date().toISOString(),
      machine: briefMachine(),
      nodeFlags: DRIFT_V8_FLAGS,
      workload: {
        registry: "docker-registry (CNCF distribution) 2.8.2 on 127.0.0.1",
        repositories: opts.repos,
        tagsPerRepository: 5,
        imagesPerRepository: 4,
        latencyMsPerRequest: opts.latencyMs,
        poolConcurrency: opts.concurrency,
        maxInFlight: opts.maxInFlight,
        perRepositoryConcurrency: OCI_DEFAULTS.concurrency,
        requestsPerRepository: goal.perRepo,
      },
      seedMs,
      goalSetup: "remote",
      ...Object.fromEntries([...measured].map(([mode, f]) => [mode, jsonOf(f)])),
    });
    console.log(`raw numbers: ${file}`);
    return 0;
  } finally {
    await remote?.stop();
    await registry?.stop();
    stopHandling();
  }
}

function jsonOf(f: Figures) {
  return {
    runs: [...f.serial, ...f.pooled],
    medianMs: { serial: f.serialMed, pool: f.poolMed, single: f.single.medianOfMedians },
    speedup: f.serialMed / f.poolMed,
    singleMedianMs: Object.fromEntries(f.single.medians.map((m) => [m.repository, m.ms])),
    slowestSingle: { repository: f.single.slowest.repository, medianMs: f.single.slowest.ms },
    poolToSlowestSingle: { ratio: f.ratio, goal: GOAL_RATIO, met: f.met },
    peakInFlight: f.peak,
    medianCpuMs: f.cpuMed,
  };
}

runBench(main);
