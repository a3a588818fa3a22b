import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type CommitSpec,
  createLongHistoryRepo,
  createRepo,
  type LongHistoryRepo,
  makeTempDir,
  removeDir,
  runGit,
} from "../support/git-fixtures";
import {
  type GitHttpServerOptions,
  type RequestRecord,
  startGitHttpServer,
} from "../support/git-http-server";

const MiB = 1024 * 1024;
const REFUSAL = "Server does not allow request for unadvertised object";

let root: string;
let scratch: string;
let long: LongHistoryRepo;
let longCreateMs: number;
let clients = 0;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  root = await makeTempDir("git-support-root-");
  scratch = await makeTempDir("git-support-scratch-");
  const t0 = performance.now();
  long = await createLongHistoryRepo(root, "acme/long", { commits: 5000, bigFileBytes: 5 * MiB });
  longCreateMs = performance.now() - t0;
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await Promise.all([root, scratch].filter(Boolean).map(removeDir));
});

async function serve(opts: Omit<GitHttpServerOptions, "root"> = {}) {
  const server = await startGitHttpServer({ root, ...opts });
  cleanups.push(() => server.close());
  return server;
}

async function newClient(): Promise<string> {
  const dir = path.join(scratch, `client-${++clients}.git`);
  await runGit(["init", "--quiet", "--bare", dir]);
  return dir;
}

/** The stager's fetch: a single commit, no history. */
async function shallowFetch(url: string, ref: string, env?: Record<string, string>) {
  const client = await newClient();
  const result = await runGit(["--git-dir", client, "fetch", "--quiet", "--depth=1", url, ref], {
    allowFailure: true,
    env,
    timeoutMs: 60_000,
  });
  return { client, ...result };
}

async function fetchedSha(client: string): Promise<string> {
  return (await runGit(["--git-dir", client, "rev-parse", "FETCH_HEAD"])).stdout.trim();
}

/** A pack is streaming: the CGI is mid-response. */
const packing = (q: RequestRecord) => q.method === "POST" && q.bytesOut > 0;

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for condition");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("git fixtures", () => {
  const spec: CommitSpec[] = [
    {
      message: "first",
      files: {
        "README.md": "hello\n",
        "bin/run": { content: "#!/bin/sh\necho hi\n", mode: "755" },
        "docs/link": { symlink: "../README.md" },
        "data.bin": Buffer.from([0, 1, 2, 255]),
      },
    },
    { files: { "README.md": "hello again\n", "docs/new.txt": "new\n" }, delete: ["data.bin"] },
  ];

  it("produces the same SHAs in any directory, on any machine", async () => {
    const a = await createRepo(root, "det/one", spec);
    const other = await makeTempDir("git-support-det-");
    try {
      const b = await createRepo(other, "det/one", spec);
      expect(b.shas).toEqual(a.shas);
      expect(b.dir).toBe(path.join(other, "det", "one.git"));
    } finally {
      await removeDir(other);
    }
    // Pinned: a change here means fixtures are no longer reproducible across versions.
    expect(a.shas).toEqual([
      "33cc00346590ed59ef80e40067d0200a6cd3db7e",
      "99daf1bc335265d305d62717488efc2871ce3c0c",
    ]);
    const tree = (
      await runGit(["--git-dir", a.dir, "ls-tree", "-r", "--format=%(objectmode) %(path)", "main"])
    ).stdout;
    expect(tree.trim().split("\n")).toEqual([
      "100644 README.md",
      "100755 bin/run",
      "120000 docs/link",
      "100644 docs/new.txt",
    ]);
  });

  it("builds a 5,000-commit repo with a deleted 5 MiB file in a few seconds", async () => {
    expect(longCreateMs).toBeLessThan(10_000);
    const git = (...args: string[]) => runGit(["--git-dir", long.dir, ...args]).then((r) => r.stdout.trim());
    expect(await git("rev-list", "--count", "main")).toBe("5000");
    expect(await git("rev-parse", "main")).toBe(long.shas.at(-1));
    expect((await git("ls-tree", "--name-only", "main")).split("\n")).toEqual([
      "CHANGELOG.md",
      "README.md",
      "config.yaml",
    ]);
    const big = long.bigFile;
    expect(big).toBeDefined();
    if (!big) return;
    expect(await git("cat-file", "-s", `${long.shas[big.addedAt]}:${big.path}`)).toBe(String(5 * MiB));
    const afterDelete = await runGit(
      ["--git-dir", long.dir, "cat-file", "-e", `${long.shas[big.deletedAt]}:${big.path}`],
      {
        allowFailure: true,
      },
    );
    expect(afterDelete.code).not.toBe(0);
  });
});

describe("fetching pinned commits", () => {
  // Old, but after the big file is gone: what a pin to an older template version looks like.
  const oldIndex = 3000;

  it("fetches an old commit by SHA over file://", async () => {
    const sha = long.shas[oldIndex] ?? "";
    const r = await shallowFetch(`file://${long.dir}`, sha);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await fetchedSha(r.client)).toBe(sha);
    const count = await runGit(["--git-dir", r.client, "rev-list", "--count", "FETCH_HEAD"]);
    expect(count.stdout.trim()).toBe("1");
  });

  it("fetches an old commit by SHA over HTTP with protocol v2, far smaller than a clone", async () => {
    const server = await serve();
    const url = `${server.url}/acme/long.git`;
    const sha = long.shas[oldIndex] ?? "";
    const r = await shallowFetch(url, sha);
    expect(r.code, r.stderr).toBe(0);
    expect(await fetchedSha(r.client)).toBe(sha);
    expect(server.requests.every((q) => q.gitProtocol === "version=2" && q.status === 200)).toBe(true);
    const shallowBytes = server.bytesOut;

    server.resetStats();
    await runGit(["clone", "--quiet", "--bare", url, path.join(scratch, "full-clone.git")]);
    const cloneBytes = server.bytesOut;
    expect(cloneBytes).toBeGreaterThan(5 * MiB);
    expect(shallowBytes).toBeLessThan(16 * 1024);
    expect(shallowBytes * 100).toBeLessThan(cloneBytes);
  });

  it("serves gzip and chunked request bodies (long negotiations)", async () => {
    // A client holding 2,000 unrelated commits sends rounds of "have" lines: git gzips bodies
    // that fit http.postBuffer and streams larger ones chunked, without Content-Length.
    // (http.postBuffer <= 65520 makes git 2.39's remote-curl abort with protocol v2.)
    const other = await createLongHistoryRepo(root, "acme/unrelated", { commits: 2000 });
    const server = await serve();
    for (const postBuffer of ["1m", "66000"]) {
      const client = await newClient();
      await runGit(["--git-dir", client, "fetch", "--quiet", `file://${other.dir}`, "main:refs/heads/other"]);
      const r = await runGit(
        [
          "--git-dir",
          client,
          "-c",
          `http.postBuffer=${postBuffer}`,
          "fetch",
          `${server.url}/acme/long.git`,
          "main",
        ],
        { env: { GIT_TRACE_CURL: "1", GIT_TRACE_CURL_NO_DATA: "1" } },
      );
      const sent = postBuffer === "1m" ? "Content-Encoding: gzip" : "Transfer-Encoding: chunked";
      expect(r.stderr).toContain(`Send header: ${sent}`);
      expect(await fetchedSha(client)).toBe(long.shas.at(-1));
    }
    expect(server.requests.every((q) => q.status === 200)).toBe(true);
  });

  it("applies latency to every request", async () => {
    const latencyMs = 150;
    const server = await serve({ latencyMs });
    const t0 = performance.now();
    await runGit(["ls-remote", `${server.url}/acme/long.git`]);
    const elapsed = performance.now() - t0;
    // ls-remote's requests are sequential: info/refs, then ls-refs.
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    expect(elapsed).toBeGreaterThanOrEqual(latencyMs * server.requests.length);
  });

  it("caps bandwidth", async () => {
    const rate = 4 * MiB;
    const server = await serve({ bandwidthBytesPerSec: rate });
    const t0 = performance.now();
    const r = await shallowFetch(`${server.url}/acme/long.git`, long.shas[1] ?? "");
    const elapsed = performance.now() - t0;
    expect(r.code, r.stderr).toBe(0);
    expect(server.bytesOut).toBeGreaterThan(5 * MiB);
    expect(elapsed).toBeGreaterThanOrEqual((server.bytesOut / rate) * 1000 * 0.9);
  });
});

describe("auth", () => {
  const token = "s3cret-token";
  const basic = `Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;

  it("answers 401 without the token and serves with it, passed via GIT_CONFIG_* env", async () => {
    const server = await serve({ requireToken: token });
    const url = `${server.url}/acme/long.git`;
    const head = long.shas.at(-1) ?? "";

    const denied = await shallowFetch(url, head);
    expect(denied.code).not.toBe(0);
    expect(server.requests.map((q) => q.status)).toEqual([401]);
    expect(server.requests[0]?.authorization).toBeUndefined();

    server.resetStats();
    const ok = await shallowFetch(url, head, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "http.extraHeader",
      GIT_CONFIG_VALUE_0: `Authorization: ${basic}`,
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(server.requests.length).toBeGreaterThan(0);
    for (const q of server.requests) {
      expect(q.status).toBe(200);
      expect(q.authorization).toBe(basic);
    }
  });

  it("accepts Bearer and token schemes, and leaves public repos open", async () => {
    await createRepo(root, "acme/secret", [{ files: { "a.txt": "a\n" } }]);
    const server = await serve({ requireToken: token, privateRepos: ["acme/secret"] });
    const refs = (repo: string, authorization?: string) =>
      fetch(`${server.url}/${repo}.git/info/refs?service=git-upload-pack`, {
        headers: authorization ? { authorization } : {},
      }).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      });
    expect(await refs("acme/secret")).toBe(401);
    expect(await refs("acme/secret", "Basic Zm9vOndyb25n")).toBe(401);
    expect(await refs("acme/secret", `Bearer ${token}`)).toBe(200);
    expect(await refs("acme/secret", `token ${token}`)).toBe(200);
    expect(await refs("acme/secret", basic)).toBe(200);
    expect(await refs("acme/long")).toBe(200);
  });
});

describe("failure modes", () => {
  it("refuseShaWants forces protocol v0, where fetching an unadvertised SHA is refused", async () => {
    const server = await serve({ refuseShaWants: true });
    const url = `${server.url}/acme/long.git`;

    const bySha = await shallowFetch(url, long.shas[3000] ?? "");
    expect(bySha.code).not.toBe(0);
    expect(bySha.stderr).toContain(REFUSAL);

    const byBranch = await shallowFetch(url, "main");
    expect(byBranch.code, byBranch.stderr).toBe(0);
    expect(await fetchedSha(byBranch.client)).toBe(long.shas.at(-1));

    // A SHA that is a ref tip is advertised, so v0 fetches it.
    const headBySha = await shallowFetch(url, long.shas.at(-1) ?? "");
    expect(headBySha.code, headBySha.stderr).toBe(0);
  });

  it("failRequests turns chosen requests into HTTP errors", async () => {
    const server = await serve({
      failRequests: ({ method, path: p }) =>
        method === "POST" && p.endsWith("/git-upload-pack") ? 500 : undefined,
    });
    const r = await shallowFetch(`${server.url}/acme/long.git`, long.shas[3000] ?? "");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/500/);
    expect(server.requests.map((q) => q.status)).toContain(500);
  });

  it("close() in the middle of a fetch leaves no processes behind", async () => {
    const server = await serve({ bandwidthBytesPerSec: 256 * 1024 });
    const fetching = shallowFetch(`${server.url}/acme/long.git`, long.shas[1] ?? "");
    await waitFor(() => server.requests.some(packing));
    // Not vacuous: the CGI processes must be alive when close() is called.
    let alive: number[] = [];
    for (const deadline = Date.now() + 10_000; alive.length === 0 && Date.now() < deadline; ) {
      alive = await server.processIds();
    }
    expect(alive.length).toBeGreaterThan(0);
    await server.close();
    expect(await server.processIds()).toEqual([]);
    expect((await fetching).code).not.toBe(0);
  });

  it("kill() drops a fetch mid-transfer and start() brings the server back on the same URL", async () => {
    const server = await serve({ bandwidthBytesPerSec: 256 * 1024 });
    const url = server.url;
    const sha = long.shas[1] ?? "";
    const fetching = shallowFetch(`${url}/acme/long.git`, sha);
    await waitFor(() => server.requests.some(packing));
    await server.kill();
    expect((await fetching).code).not.toBe(0);
    expect(await server.processIds()).toEqual([]);

    server.options.bandwidthBytesPerSec = undefined;
    await server.start();
    expect(server.url).toBe(url);
    const retry = await shallowFetch(`${url}/acme/long.git`, sha);
    expect(retry.code, retry.stderr).toBe(0);
    expect(await fetchedSha(retry.client)).toBe(sha);
  });
});
