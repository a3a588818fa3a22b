// The drift check against registries that misbehave: never answering, trickling, listing what they cannot
// serve, listing 100,000 tags. Each is a real HTTP server on 127.0.0.1 written for the test
// (test/support/misbehaving-registry.ts); the check runs as the CLI runs it (runDriftCli, OciBackend, its node:http transport).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_DRIFT_DEADLINE_MS } from "../../lib/drift/check";
import { EXIT_GRACE_MS, runDriftCli } from "../../lib/drift/cli";
import { OCI_DEFAULTS, OciBackend, type OciBackendOptions } from "../../lib/drift/oci";
import {
  exposeGc,
  type FaultyServer,
  startFloodingBodyServer,
  startHttpServer,
  startSilentServer,
  startTagListingRegistry,
  startTricklingBodyServer,
  startTricklingHeadersServer,
} from "../support/misbehaving-registry";

const dir = mkdtempSync(path.join(tmpdir(), "drift-faults-"));
const servers: FaultyServer[] = [];
const gc = exposeGc();

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function keep<T extends FaultyServer>(server: Promise<T>): Promise<T> {
  const s = await server;
  servers.push(s);
  return s;
}

const DIGEST = `sha256:${"1".repeat(64)}`;

interface Row {
  repository: string;
  status: string;
  detail: string;
  imageCount: number | null;
}

/** `npm run drift -- --outputs <file> --json`, in process, against `host`, with the backend options given. */
async function check(
  host: string,
  opts: {
    backend?: OciBackendOptions;
    deadlineMs?: number;
    repository?: string;
    digest?: string;
    tags?: string[];
  } = {},
): Promise<{ code: number; results: Row[]; stderr: string; ms: number }> {
  const repository = `${host}/${opts.repository ?? "molecule-ai/platform"}`;
  const file = path.join(dir, `outputs-${host.replace(/\W/g, "_")}.json`);
  const tags = (opts.tags ?? ["staging-abc1234", "staging-latest"]).map((t) => `${repository}:${t}`);
  writeFileSync(
    file,
    JSON.stringify({ images: { platform: { repository, digest: opts.digest ?? DIGEST, tags } } }),
  );
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  err.on("data", (c: Buffer) => errChunks.push(c));
  const t0 = performance.now();
  const code = await runDriftCli(["--outputs", file, "--json"], {
    stdout: out,
    stderr: err,
    backendFor: (h) =>
      new OciBackend(h, {
        dockerConfigPath: path.join(dir, "absent.json"),
        retryBaseMs: 20,
        ...opts.backend,
      }),
    deadlineMs: opts.deadlineMs,
  });
  const ms = performance.now() - t0;
  const text = Buffer.concat(chunks).toString("utf8");
  return {
    code,
    results: text ? (JSON.parse(text).results as Row[]) : [],
    stderr: Buffer.concat(errChunks).toString("utf8"),
    ms,
  };
}

async function until(done: () => boolean, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; !done() && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 10));
}

describe("every wait is bounded (a registry that never answers or trickles cannot hang the check)", () => {
  it("the defaults' worst case is under 3 minutes: per request, and for the whole check", () => {
    const { timeoutMs, attempts, retryBaseMs, maxRetryAfterMs } = OCI_DEFAULTS;
    // One request: every attempt runs into its deadline (headers and body), and every wait between
    // attempts is the longest allowed (a capped Retry-After, or the last backoff with its +25% jitter).
    const longestWait = Math.max(maxRetryAfterMs, retryBaseMs * 2 ** (attempts - 2) * 1.25);
    const oneRequest = attempts * timeoutMs + (attempts - 1) * longestWait;
    expect(oneRequest).toBe(150_000);
    // A single failing request is reported as itself, not swallowed by the check's deadline...
    expect(oneRequest).toBeLessThanOrEqual(DEFAULT_DRIFT_DEADLINE_MS);
    // ...while pagination (up to 10,000 pages), the steps of a describe and repositories queued behind the
    // concurrency limit multiply it without a useful bound: the check's deadline cuts all of them, and the
    // CLI exits at most EXIT_GRACE_MS after its report, whatever a backend left running.
    expect(DEFAULT_DRIFT_DEADLINE_MS + EXIT_GRACE_MS).toBeLessThan(180_000);
  });

  const fast = { timeoutMs: 300, attempts: 2 };

  it("a registry that never answers: exit 2, error, timed out, quickly (under GC pressure)", async () => {
    const silent = await keep(startSilentServer(gc));
    const pressure = setInterval(gc, 50);
    try {
      const r = await check(silent.host, { backend: fast });
      expect(r.code).toBe(2);
      expect(r.results).toHaveLength(1);
      expect(r.results[0]?.status).toBe("error");
      expect(r.results[0]?.detail).toMatch(/timed out: no answer within 300 ms after 2 attempts/);
      // Two attempts (the detail says so), and never more. On a loaded runner the second attempt's 300 ms can
      // run out before the server has read its request, so the server may have seen only the first.
      await until(() => silent.requests.length >= 2, 1_000);
      expect(silent.requests.length).toBeGreaterThanOrEqual(1);
      expect(silent.requests.length).toBeLessThanOrEqual(2);
      expect(r.ms).toBeLessThan(5_000);
    } finally {
      clearInterval(pressure);
    }
  }, 30_000);

  it("a registry that trickles its body one byte at a time for ever: exit 2, error, timed out", async () => {
    const trickling = await keep(startTricklingBodyServer(50, gc));
    const r = await check(trickling.host, { backend: fast });
    expect(r.code).toBe(2);
    expect(r.results[0]?.status).toBe("error");
    expect(r.results[0]?.detail).toMatch(
      /list tags: GET \/v2\/molecule-ai\/platform\/tags\/list: timed out: the body did not arrive within 300 ms \(HTTP 200 headers did\) after 2 attempts/,
    );
    expect(r.ms).toBeLessThan(5_000);
  }, 30_000);

  it("a registry that floods an endless body: exit 2, error, cut off at the size limit, not retried", async () => {
    const flooding = await keep(startFloodingBodyServer());
    const before = process.memoryUsage().rss;
    const r = await check(flooding.host, { backend: { ...fast, timeoutMs: 60_000 } });
    expect(r.code).toBe(2);
    expect(r.results[0]?.status).toBe("error");
    expect(r.results[0]?.detail).toMatch(
      /list tags: GET \/v2\/molecule-ai\/platform\/tags\/list: the answer's body is over 32 MiB$/,
    );
    expect(flooding.requests).toHaveLength(1);
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
  }, 30_000);

  it("a registry that trickles its headers: exit 2, error, timed out", async () => {
    const trickling = await keep(startTricklingHeadersServer(50, gc));
    const r = await check(trickling.host, { backend: fast });
    expect(r.code).toBe(2);
    expect(r.results[0]?.status).toBe("error");
    expect(r.results[0]?.detail).toMatch(/timed out: no answer within 300 ms after 2 attempts/);
    expect(r.ms).toBeLessThan(5_000);
  }, 30_000);

  it("a registry that pages its tags for ever, each page in time: the check's deadline ends it", async () => {
    let page = 0;
    const endless = await keep(
      startHttpServer((_req, res) => {
        page++;
        gc();
        res
          .writeHead(200, {
            "content-type": "application/json",
            link: `</v2/molecule-ai/platform/tags/list?n=1&last=t${page}>; rel="next"`,
          })
          .end(JSON.stringify({ name: "molecule-ai/platform", tags: [`t${page}`] }));
      }),
    );
    const r = await check(endless.host, { deadlineMs: 1_000 });
    expect(r.code).toBe(2);
    expect(r.results[0]?.status).toBe("error");
    expect(r.results[0]?.detail).toMatch(/timed out: the drift check's deadline of 1 s passed/);
    // Many pages, each in time (a loaded 2-core runner serves fewer than an idle one): only the deadline ends it.
    expect(endless.requests.length).toBeGreaterThan(3);
    expect(r.ms).toBeLessThan(3_000);
    // Nothing is left running: no further pages after the deadline. A request already written
    // when the deadline fired may still reach the server a moment later, so allow that one.
    const atReturn = endless.requests.length;
    await new Promise((done) => setTimeout(done, 100));
    const seen = endless.requests.length;
    expect(seen - atReturn).toBeLessThanOrEqual(1);
    await new Promise((done) => setTimeout(done, 300));
    expect(endless.requests.length).toBe(seen);
  }, 30_000);
});

describe("inconsistent answers are errors, not facts", () => {
  it("a registry that lists tags but answers 404 for every one: error, never `empty`", async () => {
    const tags = ["staging-abc1234", "staging-latest", "staging-0000001"];
    const liar = await keep(
      startTagListingRegistry({
        repository: "molecule-ai/platform",
        tags,
        created: new Date().toISOString(),
        servesTags: false,
      }),
    );
    const r = await check(liar.host, { digest: liar.digest });
    expect(r.code).toBe(2);
    expect(r.results[0]?.status).toBe("error");
    expect(r.results[0]?.detail).toMatch(
      /the registry lists tags it cannot serve: 3 listed tags answer 404 \(staging-0000001, staging-abc1234, staging-latest\), still listed on a second tags\/list/,
    );
  });

  it("the same above RESOLVE_ALL_MAX_TAGS, where the stack's tags are not even listed: one listed tag is probed", async () => {
    const tags = Array.from({ length: 500 }, (_, i) => `staging-${String(i).padStart(7, "0")}`);
    const liar = await keep(
      startTagListingRegistry({
        repository: "molecule-ai/platform",
        tags,
        created: new Date().toISOString(),
        servesTags: false,
      }),
    );
    const r = await check(liar.host, { digest: liar.digest });
    expect(r.code).toBe(2);
    expect(r.results[0]?.detail).toMatch(/the registry lists tags it cannot serve: 1 listed tag answers 404/);
    expect(liar.requests.length).toBe(3); // tags/list, the probe's HEAD, the second tags/list
  });

  it("a tag deleted between the list and its manifest request is gone, not an inconsistency", async () => {
    // Lists staging-latest once, then no more; its manifest is already gone.
    let lists = 0;
    const racing = await keep(
      startHttpServer((req, res) => {
        const listing = req.url?.startsWith("/v2/molecule-ai/platform/tags/list");
        if (listing) lists++;
        const body = listing
          ? { name: "molecule-ai/platform", tags: lists === 1 ? ["staging-latest"] : null }
          : { errors: [{ code: "MANIFEST_UNKNOWN", message: "unknown" }] };
        res.writeHead(listing ? 200 : 404, { "content-type": "application/json" }).end(JSON.stringify(body));
      }),
    );
    const r = await check(racing.host);
    expect(r.code).toBe(1);
    expect(r.results[0]).toMatchObject({ status: "empty", imageCount: 0 });
    expect(lists).toBe(2);
  });
});

describe("a request per tag is not needed", () => {
  it("a repository listing 100,000 tags is checked with a bounded number of requests", async () => {
    const tags = ["staging-abc1234", "staging-latest"];
    for (let i = 0; tags.length < 100_000; i++) tags.push(`staging-${i.toString(16).padStart(7, "0")}`);
    const big = await keep(
      startTagListingRegistry({
        repository: "molecule-ai/platform",
        tags,
        created: new Date(Date.now() - 86_400_000).toISOString(),
      }),
    );
    const r = await check(big.host, { digest: big.digest });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.results[0]).toMatchObject({
      status: "ok",
      imageCount: 100_000,
      detail: "100000 tag(s), newest pushed 1 day(s) ago",
    });
    // tags/list, a GET per expected tag (both dated), the config of the one image behind them.
    expect(big.requests.length).toBeLessThan(20);
    // It answers in seconds (a request per tag took 91 s): the 100,000-name list itself is all it reads in bulk.
    expect(r.ms).toBeLessThan(10_000);
    expect(big.requests.filter((q) => q.method === "GET").map((q) => q.url)).toEqual(
      expect.arrayContaining([
        "/v2/molecule-ai/platform/manifests/staging-abc1234",
        "/v2/molecule-ai/platform/manifests/staging-latest",
      ]),
    );
  }, 60_000);
});
