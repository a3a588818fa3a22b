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
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
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
import { runBench } from "./lib/run";

const REPO_ROOT = resolve(__dirname, "..");
const OUT_DIR = join(REPO_ROOT, "bench", "out");

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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const fmtMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

/** Runs `fn` over `items` with at most `n` in flight, keeping the results in order. */
async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
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

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      repos: { type: "string", default: "50" },
      runs: { type: "string", default: "3" },
      "latency-ms": { type: "string", default: "20" },
      concurrency: { type: "string", default: String(DEFAULT_DRIFT_CONCURRENCY) },
    },
  });
  const repos = Number(values.repos);
  const runs = Number(values.runs);
  const latencyMs = Number(values["latency-ms"]);
  const concurrency = Number(values.concurrency);
  for (const [k, v] of Object.entries({ repos, runs, latencyMs, concurrency })) {
    if (!Number.isInteger(v) || v < (k === "latencyMs" ? 0 : 1)) throw new Error(`bad --${k}: ${v}`);
  }

  let registry: LocalRegistry | undefined;
  let proxy: LoopbackProxy | undefined;
  const cleanup = async () => {
    await proxy?.close();
    await registry?.stop();
  };
  // Ctrl-C must not leave the registry (or its temp dir) behind.
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    registry = await startRegistry();
    const t0 = performance.now();
    const expected = await pool(
      Array.from({ length: repos }, (_, i) => i),
      4,
      (i) => seed(registry as LocalRegistry, i),
    );
    const seedMs = performance.now() - t0;
    proxy = await startProxy({ target: registry.url, latencyMs });
    const via = proxy;

    const measure = async (mode: Run["mode"]): Promise<Run> => {
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

    // A warm-up pair (not counted: first connections, JIT), then alternating order so neither mode always
    // runs on a machine the other just warmed.
    await measure("pool");
    await measure("serial");
    const results: Run[] = [];
    for (let r = 0; r < runs; r++) {
      const order: Run["mode"][] = r % 2 === 0 ? ["serial", "pool"] : ["pool", "serial"];
      for (const mode of order) results.push(await measure(mode));
    }

    const serial = results.filter((r) => r.mode === "serial");
    const pooled = results.filter((r) => r.mode === "pool");
    const serialMed = median(serial.map((r) => r.ms));
    const poolMed = median(pooled.map((r) => r.ms));
    const perRepo = (serial[0]?.requests ?? 0) / repos;

    const header = ["mode", ...serial.map((_, i) => `run ${i + 1}`), "median", "requests/run"];
    const rows = [
      ["serial", ...serial.map((r) => fmtMs(r.ms)), fmtMs(serialMed), String(serial[0]?.requests ?? 0)],
      [
        `pool of ${concurrency}`,
        ...pooled.map((r) => fmtMs(r.ms)),
        fmtMs(poolMed),
        String(pooled[0]?.requests ?? 0),
      ],
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
    const line = (row: string[]) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  ");

    console.log(
      `drift bench: ${repos} repositories (3 builds + ${CACHE_TAG}: 5 tags, 4 images each) in a real registry ` +
        `(docker-registry 2.8.2, 127.0.0.1), seeded in ${fmtMs(seedMs)}`,
    );
    console.log(
      `every request goes through a loopback proxy adding ${latencyMs} ms; ${perRepo} requests per repository; ` +
        `per-repository request concurrency 4 (the backend's default)`,
    );
    console.log("");
    console.log(line(header));
    for (const row of rows) console.log(line(row));
    console.log("");
    console.log(`speedup (median serial / median pool): ${(serialMed / poolMed).toFixed(1)}x`);

    await mkdir(OUT_DIR, { recursive: true });
    const out = {
      date: new Date().toISOString(),
      machine: {
        node: process.version,
        cpus: os.cpus().length,
        platform: `${os.platform()} ${os.release()}`,
      },
      workload: {
        registry: "docker-registry (CNCF distribution) 2.8.2 on 127.0.0.1",
        repositories: repos,
        tagsPerRepository: 5,
        imagesPerRepository: 4,
        latencyMsPerRequest: latencyMs,
        poolConcurrency: concurrency,
        perRepositoryConcurrency: 4,
        requestsPerRepository: perRepo,
      },
      seedMs,
      runs: results,
      medianMs: { serial: serialMed, pool: poolMed },
      speedup: serialMed / poolMed,
    };
    const file = join(OUT_DIR, "drift.json");
    await writeFile(file, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`raw numbers: ${file}`);
    return 0;
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

runBench(main);
