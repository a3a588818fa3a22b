/**
 * npm run bench:drift [-- --repos N --runs N --latency-ms N --concurrency N]
 *
 * The OCI drift backend describing a realistic set of repositories, one after another and through a
 * pool of workers. The registry is a real CNCF distribution 2.8.2 (`docker-registry`) on 127.0.0.1 with
 * its storage in a temp dir; images are pushed through its HTTP API. The backend talks to it through a
 * loopback proxy adding a fixed delay to every request: on bare loopback a round trip is free, which would
 * hide exactly what concurrency buys against a remote registry.
 *
 * Every run uses a fresh backend (as each CLI run is a fresh process), so no run profits from another's
 * caches. Both modes must return the same, expected facts for every repository, or the bench fails.
 * Prints a table and writes the raw numbers to bench/out/drift.json.
 */

import { parseArgs } from "node:util";
import pLimit from "p-limit";
import { checkDrift, DEFAULT_DRIFT_CONCURRENCY } from "../lib/drift/check";
import { OciBackend } from "../lib/drift/oci";
import { CACHE_TAG, type RepositoryFacts } from "../lib/drift/types";
import {
  type LocalRegistry,
  type LoopbackProxy,
  pushCacheImage,
  pushImage,
  startProxy,
  startRegistry,
} from "../test/support/oci-registry";
import { intOption } from "./lib/args";
import { fmtMs } from "./lib/format";
import { briefMachine } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { runBench } from "./lib/run";
import { cleanUpOnSignal } from "./lib/signals";
import { median } from "./lib/stats";
import { alignedTable } from "./lib/table";

interface Expected {
  repository: string;
  tags: string[];
  facts: RepositoryFacts;
}

interface Run {
  mode: "serial" | "pool";
  ms: number;
  requests: number;
}

interface Options {
  repos: number;
  runs: number;
  latencyMs: number;
  concurrency: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      repos: { type: "string", default: "50" },
      runs: { type: "string", default: "3" },
      "latency-ms": { type: "string", default: "20" },
      concurrency: { type: "string", default: String(DEFAULT_DRIFT_CONCURRENCY) },
    },
  });
  return {
    repos: intOption("repos", values.repos, 1),
    runs: intOption("runs", values.runs, 1),
    latencyMs: intOption("latency-ms", values["latency-ms"], 0),
    concurrency: intOption("concurrency", values.concurrency, 1),
  };
}

/**
 * One repository as the pipeline leaves it: three builds (staging-<sha> each, the newest also
 * staging-latest) and the build cache. Dates are a day apart, the newest a week old.
 */
async function seed(registry: LocalRegistry, i: number): Promise<Expected> {
  const repository = `molecule-ai/service-${String(i).padStart(2, "0")}`;
  const shas = [0, 1, 2].map((b) => (i * 7919 + b * 104729).toString(16).padStart(7, "0").slice(-7));
  const week = Date.now() - 7 * 86_400_000;
  const created = [2, 1, 0].map((daysBefore) => new Date(week - daysBefore * 86_400_000).toISOString());
  const tags: Record<string, string> = {};
  for (const [b, sha] of shas.entries()) {
    const newest = b === shas.length - 1;
    const tagList = newest ? [`staging-${sha}`, "staging-latest"] : [`staging-${sha}`];
    const img = await pushImage(registry.url, repository, { tags: tagList, created: created[b] ?? null });
    for (const t of tagList) tags[t] = img.digest;
  }
  const cache = await pushCacheImage(registry.url, repository, CACHE_TAG);
  tags[CACHE_TAG] = cache.digest;
  return {
    repository,
    tags: Object.keys(tags),
    facts: { exists: true, imageCount: 4, newestPush: new Date(created[2] ?? 0), tags },
  };
}

/** Seeds `repos` repositories, four at a time. */
function seedAll(registry: LocalRegistry, repos: number): Promise<Expected[]> {
  const limit = pLimit(4);
  return Promise.all(Array.from({ length: repos }, (_, i) => limit(() => seed(registry, i))));
}

/** One drift check over every repository through the proxy, with a fresh backend (as each CLI run has). */
function measurer(via: LoopbackProxy, expected: Expected[], concurrency: number) {
  return async (mode: Run["mode"]): Promise<Run> => {
    // The Docker config is only read on an auth challenge, which this registry never sends.
    const backend = new OciBackend(via.host);
    const before = via.requests.length;
    const start = performance.now();
    // What `npm run drift` runs: the orchestrator (classification included), serial or concurrent.
    const results = await checkDrift(
      expected.map((e) => {
        const repository = `${via.host}/${e.repository}`;
        const digest = e.facts.tags["staging-latest"] as string;
        return { name: e.repository, repository, digest, tags: [`${repository}:staging-latest`] };
      }),
      { maxAgeDays: 14, concurrency: mode === "serial" ? 1 : concurrency, backendFor: () => backend },
    );
    const ms = performance.now() - start;
    const notOk = results.filter((r) => r.status !== "ok");
    if (notOk.length > 0) throw new Error(`${mode}: expected all ok, got ${JSON.stringify(notOk[0])}`);
    return { mode, ms, requests: via.requests.length - before };
  };
}

/**
 * A warm-up pair (not counted: first connections, JIT), then alternating order so neither mode always
 * runs on a machine the other just warmed.
 */
async function alternate(measure: (mode: Run["mode"]) => Promise<Run>, runs: number): Promise<Run[]> {
  await measure("pool");
  await measure("serial");
  const results: Run[] = [];
  for (let r = 0; r < runs; r++) {
    const order: Run["mode"][] = r % 2 === 0 ? ["serial", "pool"] : ["pool", "serial"];
    for (const mode of order) results.push(await measure(mode));
  }
  return results;
}

function figures(results: Run[], repos: number) {
  const serial = results.filter((r) => r.mode === "serial");
  const pooled = results.filter((r) => r.mode === "pool");
  const serialMed = median(serial.map((r) => r.ms));
  const poolMed = median(pooled.map((r) => r.ms));
  return { serial, pooled, serialMed, poolMed, perRepo: (serial[0]?.requests ?? 0) / repos };
}

function printSummary(opts: Options, seedMs: number, f: ReturnType<typeof figures>): void {
  const { serial, pooled } = f;
  const rows = [
    ["mode", ...serial.map((_, i) => `run ${i + 1}`), "median", "requests/run"],
    ["serial", ...serial.map((r) => fmtMs(r.ms)), fmtMs(f.serialMed), String(serial[0]?.requests ?? 0)],
    [
      `pool of ${opts.concurrency}`,
      ...pooled.map((r) => fmtMs(r.ms)),
      fmtMs(f.poolMed),
      String(pooled[0]?.requests ?? 0),
    ],
  ];
  console.log(
    `drift bench: ${opts.repos} repositories (3 builds + ${CACHE_TAG}: 5 tags, 4 images each) in a real registry ` +
      `(docker-registry 2.8.2, 127.0.0.1), seeded in ${fmtMs(seedMs)}`,
  );
  console.log(
    `every request goes through a loopback proxy adding ${opts.latencyMs} ms; ${f.perRepo} requests per repository; ` +
      `per-repository request concurrency 4 (the backend's default)`,
  );
  console.log("");
  for (const line of alignedTable(rows, { rule: false })) console.log(line);
  console.log("");
  console.log(`speedup (median serial / median pool): ${(f.serialMed / f.poolMed).toFixed(1)}x`);
}

async function main(): Promise<number> {
  const opts = parseOptions();
  let registry: LocalRegistry | undefined;
  let proxy: LoopbackProxy | undefined;
  const cleanup = async () => {
    await proxy?.close();
    await registry?.stop();
  };
  // Ctrl-C must not leave the registry (or its temp dir) behind.
  const stopHandling = cleanUpOnSignal(cleanup);
  try {
    registry = await startRegistry();
    const t0 = performance.now();
    const expected = await seedAll(registry, opts.repos);
    const seedMs = performance.now() - t0;
    proxy = await startProxy({ target: registry.url, latencyMs: opts.latencyMs });
    const results = await alternate(measurer(proxy, expected, opts.concurrency), opts.runs);

    const f = figures(results, opts.repos);
    printSummary(opts, seedMs, f);
    const file = await writeOutJson("drift.json", {
      date: new Date().toISOString(),
      machine: briefMachine(),
      workload: {
        registry: "docker-registry (CNCF distribution) 2.8.2 on 127.0.0.1",
        repositories: opts.repos,
        tagsPerRepository: 5,
        imagesPerRepository: 4,
        latencyMsPerRequest: opts.latencyMs,
        poolConcurrency: opts.concurrency,
        perRepositoryConcurrency: 4,
        requestsPerRepository: f.perRepo,
      },
      seedMs,
      runs: results,
      medianMs: { serial: f.serialMed, pool: f.poolMed },
      speedup: f.serialMed / f.poolMed,
    });
    console.log(`raw numbers: ${file}`);
    return 0;
  } finally {
    await cleanup();
    stopHandling();
  }
}

runBench(main);
