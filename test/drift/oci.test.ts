// The OCI drift backend against a real registry (CNCF distribution 2.8.2 on 127.0.0.1), with loopback
// proxies in front of it where a test needs failures, auth or pagination that registry does not produce.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isLoopback,
  MANIFEST_ACCEPT,
  OciBackend,
  type OciBackendOptions,
  parseChallenges,
  RESOLVE_ALL_MAX_TAGS,
} from "../../lib/drift/oci";
import { httpTransport, type Transport } from "../../lib/drift/oci/transport";
import { CACHE_TAG, CheckError } from "../../lib/drift/types";
import { nextLink } from "../../lib/http/link";
import { retryAfterMs } from "../../lib/retry/retry-after";
import {
  assertRegistryInstalled,
  deleteManifest,
  type InterceptReply,
  type LocalRegistry,
  type LoopbackProxy,
  type ProxyOptions,
  pushCacheImage,
  pushImage,
  pushIndex,
  startProxy,
  startRegistry,
} from "../support/oci-registry";

const OLD = "2026-01-05T10:00:00.000Z";
const OLDER = "2025-12-01T08:30:00.000Z";

let registry: LocalRegistry;
let tmp: string;
/** Never the machine's own ~/.docker/config.json: what a developer is logged into must not matter. */
let noConfig: string;
const proxies: LoopbackProxy[] = [];

beforeAll(async () => {
  // Fails the file (never skips it) with the install command when the binary is absent.
  assertRegistryInstalled();
  registry = await startRegistry();
  tmp = await mkdtemp(path.join(os.tmpdir(), "drift-oci-test-"));
  noConfig = path.join(tmp, "absent", "config.json");
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await registry?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function backend(host = registry.host, opts: OciBackendOptions = {}): OciBackend {
  return new OciBackend(host, { dockerConfigPath: noConfig, retryBaseMs: 20, ...opts });
}

async function proxy(opts: ProxyOptions): Promise<LoopbackProxy> {
  const p = await startProxy(opts);
  proxies.push(p);
  return p;
}

async function rejection(promise: Promise<unknown>): Promise<CheckError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckError);
  return err as CheckError;
}

async function writeDockerConfig(name: string, config: unknown): Promise<string> {
  const file = path.join(tmp, name, "config.json");
  await rm(path.dirname(file), { recursive: true, force: true });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(config));
  return file;
}

describe("describe() against registry 2.8.2", () => {
  it("reports a never-pushed repository as absent", async () => {
    expect(await backend().describe("molecule-ai/never-pushed", ["staging-latest"])).toEqual({
      exists: false,
      imageCount: 0,
      newestPush: null,
      tags: {},
    });
  });

  it("reports a repository whose only manifest was deleted as existing and empty (tags: null)", async () => {
    const img = await pushImage(registry.url, "molecule-ai/emptied", { tags: ["staging-latest"] });
    await deleteManifest(registry.url, "molecule-ai/emptied", img.digest);
    const raw = await fetch(`${registry.url}/v2/molecule-ai/emptied/tags/list`).then((r) => r.json());
    expect(raw).toEqual({ name: "molecule-ai/emptied", tags: null }); // the registry quirk this relies on
    expect(await backend().describe("molecule-ai/emptied", ["staging-latest"])).toEqual({
      exists: true,
      imageCount: 0,
      newestPush: null,
      tags: {},
    });
  });

  it("dates a stale image by its config, ignoring a fresh buildcache manifest", async () => {
    const repo = "molecule-ai/stale";
    const old = await pushImage(registry.url, repo, { tags: ["staging-aaaaaaa"], created: OLDER });
    const latest = await pushImage(registry.url, repo, {
      tags: ["staging-bbbbbbb", "staging-latest"],
      created: OLD,
    });
    // Fresh `created`: if the cache image counted, newestPush would be today.
    const cache = await pushCacheImage(registry.url, repo, CACHE_TAG, new Date().toISOString());
    const facts = await backend().describe(repo, ["staging-latest", "staging-bbbbbbb", CACHE_TAG, "missing"]);
    expect(facts).toEqual({
      exists: true,
      imageCount: 3,
      newestPush: new Date(OLD),
      tags: { "staging-latest": latest.digest, "staging-bbbbbbb": latest.digest, [CACHE_TAG]: cache.digest },
    });
    expect(old.digest).not.toBe(latest.digest);
  });

  it("ignores a realistic BuildKit cache manifest (cache config, no `created`)", async () => {
    const repo = "molecule-ai/realistic-cache";
    await pushImage(registry.url, repo, { tags: ["staging-ccccccc"], created: OLD });
    await pushCacheImage(registry.url, repo, CACHE_TAG);
    const facts = await backend().describe(repo, []);
    expect(facts.newestPush).toEqual(new Date(OLD));
    expect(facts.imageCount).toBe(2);
  });

  it("answers newestPush null when any non-cache image has no `created`", async () => {
    const repo = "molecule-ai/undated";
    await pushImage(registry.url, repo, { tags: ["staging-ddddddd"], created: null });
    expect((await backend().describe(repo, [])).newestPush).toBeNull();
    // One dated image does not make the undated one known.
    await pushImage(registry.url, repo, { tags: ["staging-eeeeeee"], created: new Date().toISOString() });
    const facts = await backend().describe(repo, []);
    expect(facts.newestPush).toBeNull();
    expect(facts.imageCount).toBe(2);
  });

  it("answers newestPush null when only the cache tag is there", async () => {
    const repo = "molecule-ai/cache-only";
    await pushCacheImage(registry.url, repo, CACHE_TAG, new Date().toISOString());
    expect(await backend().describe(repo, [CACHE_TAG])).toMatchObject({
      exists: true,
      imageCount: 1,
      newestPush: null,
    });
  });

  it("follows a moved tag, counting only tagged manifests", async () => {
    const repo = "molecule-ai/moved";
    const first = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLDER });
    const b = backend();
    expect((await b.describe(repo, ["staging-latest"])).tags).toEqual({ "staging-latest": first.digest });
    const second = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLD });
    const facts = await b.describe(repo, ["staging-latest"]);
    expect(facts.tags).toEqual({ "staging-latest": second.digest });
    // The first manifest is still stored, untagged: the API cannot list it, so it is not counted.
    expect(facts.imageCount).toBe(1);
    expect(facts.newestPush).toEqual(new Date(OLD));
  });

  it("dates an OCI index by its first platform manifest", async () => {
    const repo = "molecule-ai/multi-arch";
    const amd = await pushImage(registry.url, repo, { tags: [], created: OLDER, architecture: "amd64" });
    const arm = await pushImage(registry.url, repo, { tags: [], created: OLD, architecture: "arm64" });
    const index = await pushIndex(registry.url, repo, ["staging-latest"], [amd, arm]);
    expect(await backend().describe(repo, ["staging-latest"])).toEqual({
      exists: true,
      imageCount: 1,
      newestPush: new Date(OLDER),
      tags: { "staging-latest": index.digest },
    });
  });

  it("reads Docker schema2 manifests and lists by their pushed digest, not a schema1 conversion", async () => {
    const repo = "molecule-ai/docker-format";
    const img = await pushImage(registry.url, repo, {
      tags: ["staging-latest"],
      created: OLD,
      format: "docker",
    });
    const list = await pushIndex(registry.url, repo, ["multi"], [img], "docker");
    // Without the schema2 type in Accept, 2.8.2 serves a converted schema1 manifest with another digest.
    const bare = await fetch(`${registry.url}/v2/${repo}/manifests/staging-latest`);
    await bare.arrayBuffer();
    expect(bare.headers.get("docker-content-digest")).not.toBe(img.digest);
    expect(await backend().describe(repo, ["staging-latest", "multi"])).toEqual({
      exists: true,
      imageCount: 2,
      newestPush: new Date(OLD),
      tags: { "staging-latest": img.digest, multi: list.digest },
    });
  });

  it("rejects a repository name that is not one", async () => {
    const err = await rejection(backend().describe("molecule-ai/../etc", []));
    expect(err.message).toContain("is not a repository name");
  });
});

describe("list()", () => {
  it("lists repositories by prefix across catalog pages (2.8.2 pages by 100 with Link)", async () => {
    const pushes: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < 105; i++) {
      const name = `catalog-test/r${String(i).padStart(3, "0")}`;
      pushes.push(() => pushImage(registry.url, name, { tags: ["t"], seed: "shared" }));
    }
    pushes.push(() => pushImage(registry.url, "catalog-testing/other", { tags: ["t"] }));
    // A few at a time: quick, without hammering a 2-core machine.
    for (let i = 0; i < pushes.length; i += 8) await Promise.all(pushes.slice(i, i + 8).map((p) => p()));

    const first = await fetch(`${registry.url}/v2/_catalog`);
    await first.arrayBuffer();
    expect(first.headers.get("link")).toMatch(/rel="next"/);

    const spy = await proxy({ target: registry.url });
    const names = await backend(spy.host).list("catalog-test/");
    expect(names).toHaveLength(105);
    expect(names[0]).toBe("catalog-test/r000");
    expect(names.at(-1)).toBe("catalog-test/r104");
    expect(spy.requests.filter((r) => r.url.startsWith("/v2/_catalog")).length).toBeGreaterThan(1);
    expect(await backend().list("catalog-testing")).toEqual(["catalog-testing/other"]);
  });
});

describe("failures are CheckErrors, after retries", () => {
  it("rejects when the registry stops in the middle of a describe()", async () => {
    const doomed = await startRegistry();
    try {
      const repo = "molecule-ai/doomed";
      for (const tag of ["a", "b", "c", "d", "e", "f"]) await pushImage(doomed.url, repo, { tags: [tag] });
      let stopped = false;
      // Stops the registry right after the tag list arrived: every manifest request after it meets a closed port.
      const wire = httpTransport(4);
      const thenStop: Transport = (req) => {
        const call = wire(req);
        const answer = call.answer.then(async (res) => {
          if (stopped || !req.url.pathname.endsWith("/tags/list")) return res;
          stopped = true;
          const chunks: Uint8Array[] = [];
          for await (const chunk of res.body) chunks.push(chunk);
          await doomed.stop();
          return {
            ...res,
            body: (async function* () {
              yield* chunks;
            })(),
          };
        });
        return { ...call, answer };
      };
      const err = await rejection(
        backend(doomed.host, { transport: thenStop, attempts: 2 }).describe(repo, ["a"]),
      );
      expect(stopped).toBe(true);
      expect(err.message).toContain(doomed.host);
      expect(err.message).toContain(repo);
      expect(err.message).toMatch(/GET manifest [a-f].*connection refused \(ECONNREFUSED\) after 2 attempts/);
    } finally {
      await doomed.stop();
    }
  });

  it("retries a server that always answers 500, then gives up", async () => {
    const broken = await proxy({ intercept: () => ({ status: 500, body: "boom" }) });
    const err = await rejection(backend(broken.host, { attempts: 3 }).describe("molecule-ai/x", []));
    expect(broken.requests).toHaveLength(3);
    expect(err.message).toBe(
      `OCI registry ${broken.host}, repository molecule-ai/x: list tags: GET /v2/molecule-ai/x/tags/list: HTTP 500 after 3 attempts`,
    );
  });

  it("honours Retry-After on 429, then succeeds", async () => {
    const repo = "molecule-ai/throttled";
    const img = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLD });
    const limited = await proxy({
      target: registry.url,
      intercept: (req) =>
        req.n === 1 ? { status: 429, headers: { "retry-after": "1" }, body: "slow down" } : undefined,
    });
    const t0 = performance.now();
    const facts = await backend(limited.host).describe(repo, ["staging-latest"]);
    const elapsed = performance.now() - t0;
    expect(facts.tags).toEqual({ "staging-latest": img.digest });
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(limited.requests[1]?.url).toBe(limited.requests[0]?.url);
  });

  it("caps a huge Retry-After", async () => {
    const limited = await proxy({
      target: registry.url,
      intercept: (req) => (req.n === 1 ? { status: 503, headers: { "retry-after": "3600" } } : undefined),
    });
    const t0 = performance.now();
    await backend(limited.host, { maxRetryAfterMs: 100 }).describe("molecule-ai/never-pushed", []);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(limited.requests).toHaveLength(2);
  });

  it("times out a registry that never answers", async () => {
    const silent = await proxy({ intercept: () => "hang" });
    const err = await rejection(backend(silent.host, { timeoutMs: 200, attempts: 2 }).list(""));
    expect(err.message).toContain("no answer within 200 ms after 2 attempts");
    expect(silent.requests).toHaveLength(2);
  });

  it("rejects malformed JSON and a 404 that is not NAME_UNKNOWN", async () => {
    const junk = await proxy({ intercept: () => ({ status: 200, body: "<html>not json</html>" }) });
    expect((await rejection(backend(junk.host).describe("a/b", []))).message).toContain("not JSON");
    const lost = await proxy({ intercept: () => ({ status: 404, body: "404 page not found" }) });
    expect((await rejection(backend(lost.host).describe("a/b", []))).message).toContain(
      "unexpected HTTP 404",
    );
  });

  it("rejects a Link header pointing to another origin", async () => {
    const evil = await proxy({
      intercept: () => ({
        status: 200,
        headers: { link: '<http://127.0.0.2:1/v2/_catalog?last=x>; rel="next"' },
        body: JSON.stringify({ repositories: ["a"] }),
      }),
    });
    expect((await rejection(backend(evil.host).list(""))).message).toContain("another origin");
  });
});

describe("protocol details", () => {
  it("follows Link pagination of tags/list (other registries page; 2.8.2 does not)", async () => {
    const repo = "molecule-ai/paged";
    const a = await pushImage(registry.url, repo, { tags: ["staging-1111111"], created: OLDER });
    const b = await pushImage(registry.url, repo, {
      tags: ["staging-2222222", "staging-latest"],
      created: OLD,
    });
    const paging = await proxy({
      target: registry.url,
      intercept: (req) => {
        if (!req.url.startsWith(`/v2/${repo}/tags/list`)) return undefined;
        const second = req.url.includes("last=");
        const tags = second ? ["staging-latest", "staging-2222222"] : ["staging-1111111"];
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (!second) headers.link = `</v2/${repo}/tags/list?n=1&last=staging-1111111>; rel="next"`;
        return { status: 200, headers, body: JSON.stringify({ name: repo, tags }) };
      },
    });
    expect(await backend(paging.host).describe(repo, ["staging-1111111", "staging-latest"])).toEqual({
      exists: true,
      imageCount: 2,
      newestPush: new Date(OLD),
      tags: { "staging-1111111": a.digest, "staging-latest": b.digest },
    });
  });

  it("GETs each dated tag with the full Accept list and bounds concurrency per repository", async () => {
    const repo = "molecule-ai/many-tags";
    for (let i = 0; i < 12; i++)
      await pushImage(registry.url, repo, { tags: [`staging-${i}`], created: OLD });
    const slow = await proxy({ target: registry.url, latencyMs: 30 });
    const facts = await backend(slow.host).describe(repo, []);
    expect(facts.imageCount).toBe(12);
    const byTag = slow.requests.filter((r) => r.url.includes("/manifests/staging-"));
    expect(byTag.map((r) => r.method)).toEqual(Array(12).fill("GET"));
    for (const h of byTag) expect(h.headers.accept).toBe(MANIFEST_ACCEPT);
    // Each manifest is fetched once, by its tag: dating it reads that answer, not the registry again.
    expect(slow.requests.filter((r) => r.url.includes("/manifests/sha256:"))).toHaveLength(0);
    expect(slow.maxInFlight).toBeGreaterThan(1);
    expect(slow.maxInFlight).toBeLessThanOrEqual(4);
  });

  it("above RESOLVE_ALL_MAX_TAGS tags: resolves only the asked-for and latest tags, counts tags, dates those", async () => {
    const repo = "molecule-ai/crowded";
    // 120 per-commit tags on an old image, a fresh image under one more tag, the stack's image behind
    // staging-latest, and a fresh cache manifest.
    const old = await pushImage(registry.url, repo, { tags: [], created: OLDER });
    const manifest = await fetch(`${registry.url}/v2/${repo}/manifests/${old.digest}`, {
      headers: { accept: MANIFEST_ACCEPT },
    }).then((r) => r.text());
    const many = Array.from({ length: 120 }, (_, i) => `staging-${String(i).padStart(7, "0")}`);
    for (let i = 0; i < many.length; i += 8) {
      await Promise.all(
        many.slice(i, i + 8).map((tag) =>
          fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
            method: "PUT",
            headers: { "content-type": old.mediaType },
            body: manifest,
          }).then((r) => r.arrayBuffer()),
        ),
      );
    }
    await pushImage(registry.url, repo, { tags: ["staging-zzzzzzz"], created: new Date().toISOString() });
    const deployed = await pushImage(registry.url, repo, {
      tags: ["staging-abc1234", "staging-latest"],
      created: OLD,
    });
    await pushCacheImage(registry.url, repo, CACHE_TAG, new Date().toISOString());
    expect(RESOLVE_ALL_MAX_TAGS).toBeLessThan(124);

    const spy = await proxy({ target: registry.url });
    const facts = await backend(spy.host).describe(repo, ["staging-abc1234", "staging-latest", "absent"]);
    expect(facts).toEqual({
      exists: true,
      imageCount: 124,
      imageCountUnit: "tags",
      // The stack's image, not the fresher staging-zzzzzzz nor the cache: only asked-for and latest tags date.
      newestPush: new Date(OLD),
      tags: { "staging-abc1234": deployed.digest, "staging-latest": deployed.digest },
    });
    expect(
      spy.requests.map((r) => `${r.method} ${r.url.replace(/sha256:[0-9a-f]{64}/, "<digest>")}`).sort(),
    ).toEqual([
      `GET /v2/${repo}/blobs/<digest>`,
      `GET /v2/${repo}/manifests/staging-abc1234`,
      `GET /v2/${repo}/manifests/staging-latest`,
      `GET /v2/${repo}/tags/list`,
    ]);

    // Unmanaged (nothing asked for): the latest tag dates it.
    expect((await backend().describe(repo, [])).newestPush).toEqual(new Date(OLD));
  });

  it("a repository as the pipeline leaves it takes 9 requests in 3 round trips", async () => {
    const repo = "molecule-ai/typical";
    await pushImage(registry.url, repo, { tags: ["staging-aaaaaaa"], created: OLDER });
    await pushImage(registry.url, repo, { tags: ["staging-bbbbbbb"], created: OLD });
    const newest = await pushImage(registry.url, repo, {
      tags: ["staging-ccccccc", "staging-latest"],
      created: OLD,
    });
    await pushCacheImage(registry.url, repo, CACHE_TAG, new Date().toISOString());
    const spy = await proxy({ target: registry.url });
    const facts = await backend(spy.host).describe(repo, ["staging-latest"]);
    expect(facts).toMatchObject({ exists: true, imageCount: 4, tags: { "staging-latest": newest.digest } });
    const m = `/v2/${repo}/manifests`;
    expect(
      spy.requests.map((r) => `${r.method} ${r.url.replace(/sha256:[0-9a-f]{64}/, "<digest>")}`).sort(),
    ).toEqual([
      ...Array(3).fill(`GET /v2/${repo}/blobs/<digest>`),
      `GET ${m}/staging-aaaaaaa`,
      `GET ${m}/staging-bbbbbbb`,
      `GET ${m}/staging-ccccccc`,
      `GET ${m}/staging-latest`,
      `GET /v2/${repo}/tags/list`,
      // The cache tag is never dated: its digest is all that is needed.
      `HEAD ${m}/${CACHE_TAG}`,
    ]);
  });

  it("a Docker-Content-Digest naming another manifest than the one served is a CheckError", async () => {
    const repo = "molecule-ai/lying-digest";
    const img = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLD });
    const other = `sha256:${"e".repeat(64)}`;
    const lying = await proxy({
      target: registry.url,
      intercept: async (req) => {
        if (!req.url.includes("/manifests/")) return undefined;
        const res = await fetch(`${registry.url}${req.url}`, { headers: { accept: MANIFEST_ACCEPT } });
        return {
          status: res.status,
          headers: { "content-type": res.headers.get("content-type") ?? "", "docker-content-digest": other },
          body: await res.text(),
        };
      },
    });
    const err = await rejection(backend(lying.host).describe(repo, ["staging-latest"]));
    expect(err.message).toContain(lying.host);
    expect(err.message).toContain(repo);
    expect(err.message).toContain("GET manifest staging-latest");
    expect(err.message).toContain(`names digest ${other} but the manifest it serves is ${img.digest}`);
  });

  it("checks a sha512 Docker-Content-Digest against the body, and reports the sha256 a push gave", async () => {
    const repo = "molecule-ai/sha512-digest";
    const img = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLD });
    let claim: (body: string) => string = () => "";
    const answering = await proxy({
      target: registry.url,
      intercept: async (req) => {
        if (req.method !== "GET" || !req.url.endsWith("/manifests/staging-latest")) return undefined;
        const res = await fetch(`${registry.url}${req.url}`, { headers: { accept: MANIFEST_ACCEPT } });
        const body = await res.text();
        return {
          status: res.status,
          headers: {
            "content-type": res.headers.get("content-type") ?? "",
            "docker-content-digest": claim(body),
          },
          body,
        };
      },
    });
    const sha512 = (text: string) => `sha512:${createHash("sha512").update(text).digest("hex")}`;
    claim = sha512;
    const facts = await backend(answering.host).describe(repo, ["staging-latest"]);
    expect(facts.tags).toEqual({ "staging-latest": img.digest });
    expect(facts.newestPush).toEqual(new Date(OLD));

    const wrong = sha512("another manifest");
    claim = () => wrong;
    const err = await rejection(backend(answering.host).describe(repo, ["staging-latest"]));
    expect(err.message).toContain(`names digest ${wrong} but the manifest it serves is ${img.digest}`);
  });

  it("computes the digest from the body when Docker-Content-Digest is missing", async () => {
    const repo = "molecule-ai/no-digest-header";
    const img = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLD });
    const cache = await pushCacheImage(registry.url, repo, CACHE_TAG, new Date().toISOString());
    // HEAD (the cache tag's, never dated) answered without the header; the GET that follows goes through,
    // its header stripped too, as is the dated tag's GET.
    const stripping = await proxy({
      target: registry.url,
      intercept: async (req) => {
        if (!req.url.includes("/manifests/")) return undefined;
        if (req.method === "HEAD") return { status: 200, headers: { "content-type": "application/json" } };
        const res = await fetch(`${registry.url}${req.url}`, { headers: { accept: MANIFEST_ACCEPT } });
        return {
          status: res.status,
          headers: { "content-type": res.headers.get("content-type") ?? "" },
          body: await res.text(),
        };
      },
    });
    const facts = await backend(stripping.host).describe(repo, ["staging-latest", CACHE_TAG]);
    expect(facts.tags).toEqual({ "staging-latest": img.digest, [CACHE_TAG]: cache.digest });
    expect(facts.newestPush).toEqual(new Date(OLD));
    const cacheRequests = stripping.requests.filter((r) => r.url.endsWith(`/manifests/${CACHE_TAG}`));
    expect(cacheRequests.map((r) => r.method)).toEqual(["HEAD", "GET"]);
  });
});

describe("auth", () => {
  const user = "ci-bot";
  const password = "s3cret-pa55word";
  const good = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

  it("sends basic credentials from the Docker config after a Basic challenge, never echoing them", async () => {
    const repo = "molecule-ai/private";
    const img = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLD });
    const guarded = await proxy({
      target: registry.url,
      intercept: (req) =>
        req.headers.authorization === good
          ? undefined
          : { status: 401, headers: { "www-authenticate": 'Basic realm="Registry Realm"' } },
    });
    const config = await writeDockerConfig("basic", {
      auths: { [`https://${guarded.host}`]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } },
    });
    const facts = await backend(guarded.host, { dockerConfigPath: config }).describe(repo, [
      "staging-latest",
    ]);
    expect(facts.tags).toEqual({ "staging-latest": img.digest });
    // One challenge, then credentials on every request.
    expect(guarded.requests.filter((r) => r.headers.authorization !== good)).toHaveLength(1);

    const anonymous = await rejection(backend(guarded.host).describe(repo, []));
    expect(anonymous.message).toContain("requires authentication");
    expect(anonymous.message).toContain(`no credentials for ${guarded.host}`);

    const wrong = await writeDockerConfig("wrong", {
      auths: { [guarded.host]: { auth: Buffer.from(`${user}:nope-${password}`).toString("base64") } },
    });
    const rejected = await rejection(backend(guarded.host, { dockerConfigPath: wrong }).describe(repo, []));
    expect(rejected.message).toContain("rejected the credentials");
    expect(rejected.message).not.toContain(password);
    expect(rejected.message).not.toContain(Buffer.from(`${user}:nope-${password}`).toString("base64"));
  });

  it("follows a blob redirect to another origin without the credentials, as object-storage registries need", async () => {
    const repo = "molecule-ai/redirected";
    const img = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLD });
    // The storage host serves the blob from the registry; it must never see the registry's Authorization.
    const storage = await proxy({ target: registry.url });
    const guarded = await proxy({
      target: registry.url,
      intercept: (req): InterceptReply | undefined => {
        if (req.headers.authorization !== good) {
          return { status: 401, headers: { "www-authenticate": 'Basic realm="Registry Realm"' } };
        }
        if (req.url.includes("/blobs/")) {
          return { status: 307, headers: { location: `${storage.url}${req.url}?X-Amz-Signature=s` } };
        }
        return undefined;
      },
    });
    const config = await writeDockerConfig("redirect", {
      auths: { [guarded.host]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } },
    });
    const facts = await backend(guarded.host, { dockerConfigPath: config }).describe(repo, [
      "staging-latest",
    ]);
    expect(facts.tags).toEqual({ "staging-latest": img.digest });
    expect(facts.newestPush).toEqual(new Date(OLD));
    expect(guarded.requests.some((r) => r.url.includes("/blobs/"))).toBe(true);
    expect(storage.requests.map((r) => r.url.split("?")[0])).toEqual([
      `/v2/${repo}/blobs/${img.configDigest}`,
    ]);
    expect(storage.requests.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
  });

  it("gets a bearer token per scope from the realm, with basic credentials, and caches it", async () => {
    const repo = "molecule-ai/token-guarded";
    const img = await pushImage(registry.url, repo, { tags: ["staging-latest"], created: OLD });
    const issued = new Map<string, string>(); // token -> scope
    let tokenHost = "";
    const guarded = await proxy({
      target: registry.url,
      intercept: (req) => {
        const url = new URL(req.url, "http://x");
        if (url.pathname === "/token") {
          if (req.headers.authorization !== good) return { status: 401 };
          const scope = url.searchParams.get("scope") ?? "";
          const token = `tok-${issued.size + 1}`;
          issued.set(token, scope);
          return { status: 200, body: JSON.stringify({ token, expires_in: 300 }) };
        }
        const wanted = url.pathname === "/v2/_catalog" ? "registry:catalog:*" : `repository:${repo}:pull`;
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
        if (token && issued.get(token) === wanted) return undefined;
        const challenge = `Bearer realm="http://${tokenHost}/token",service="test-registry",scope="${wanted}"`;
        return { status: 401, headers: { "www-authenticate": challenge } };
      },
    });
    tokenHost = guarded.host;
    const config = await writeDockerConfig("bearer", {
      auths: { [guarded.host]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } },
    });
    const b = backend(guarded.host, { dockerConfigPath: config });
    const facts = await b.describe(repo, ["staging-latest"]);
    expect(facts.tags).toEqual({ "staging-latest": img.digest });
    await b.describe(repo, ["staging-latest"]);
    expect(await b.list("molecule-ai/token")).toEqual([repo]);
    // One token per scope, shared by every request and both describes.
    expect([...issued.values()].sort()).toEqual([`repository:${repo}:pull`, "registry:catalog:*"].sort());
    const tokenRequests = guarded.requests.filter((r) => r.url.startsWith("/token"));
    expect(tokenRequests).toHaveLength(2);
    expect(tokenRequests.every((r) => r.headers.authorization === good)).toBe(true);
    // Credentials go to the token realm only; the registry sees tokens.
    const registryRequests = guarded.requests.filter((r) => !r.url.startsWith("/token"));
    expect(registryRequests.some((r) => r.headers.authorization?.startsWith("Basic"))).toBe(false);

    // The registry stops accepting the tokens (expired): one new token, and the describe still succeeds.
    issued.clear();
    expect((await b.describe(repo, ["staging-latest"])).tags).toEqual({ "staging-latest": img.digest });
    expect(guarded.requests.filter((r) => r.url.startsWith("/token"))).toHaveLength(3);
  });

  it("names a credential helper it cannot run", async () => {
    const guarded = await proxy({
      intercept: () => ({ status: 401, headers: { "www-authenticate": 'Basic realm="r"' } }),
    });
    const config = await writeDockerConfig("helper", { credHelpers: { [guarded.host]: "ecr-login" } });
    const err = await rejection(backend(guarded.host, { dockerConfigPath: config }).list(""));
    expect(err.message).toContain('credential helper "ecr-login"');
  });

  it("refuses a Docker config that is not JSON without quoting it", async () => {
    const file = path.join(tmp, "broken-config.json");
    await writeFile(file, `{"auths": {"h": {"auth": "${Buffer.from("u:hunter2").toString("base64")}"`);
    const guarded = await proxy({
      intercept: () => ({ status: 401, headers: { "www-authenticate": 'Basic realm="r"' } }),
    });
    const err = await rejection(backend(guarded.host, { dockerConfigPath: file }).list(""));
    expect(err.message).toContain("is not valid JSON");
    expect(err.message).not.toContain(Buffer.from("u:hunter2").toString("base64"));
  });
});

describe("pure helpers", () => {
  it("uses plain HTTP for loopback hosts only", () => {
    for (const h of ["127.0.0.1:5000", "127.1.2.3", "localhost:5000", "LOCALHOST", "[::1]:5000"]) {
      expect(isLoopback(h), h).toBe(true);
      expect(new OciBackend(h).baseUrl.startsWith("http://"), h).toBe(true);
    }
    for (const h of [
      "153263036946.dkr.ecr.us-east-2.amazonaws.com",
      "ghcr.io",
      "10.0.0.1:5000",
      "128.0.0.1",
    ]) {
      expect(isLoopback(h), h).toBe(false);
      expect(new OciBackend(h).baseUrl, h).toBe(`https://${h}`);
    }
  });

  it("parses Retry-After as seconds or an HTTP date, capped", () => {
    const now = Date.parse("2026-11-24T00:00:00Z");
    expect(retryAfterMs("2", 30_000, now)).toBe(2000);
    expect(retryAfterMs("Tue, 24 Nov 2026 00:00:05 GMT", 30_000, now)).toBe(5000);
    expect(retryAfterMs("Mon, 23 Nov 2026 23:00:00 GMT", 30_000, now)).toBe(0);
    expect(retryAfterMs("86400", 30_000, now)).toBe(30_000);
    expect(retryAfterMs("soon", 30_000, now)).toBeUndefined();
    expect(retryAfterMs(null, 30_000, now)).toBeUndefined();
  });

  it("parses WWW-Authenticate challenges, commas inside quoted scopes included", () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.example/token",
          service: "registry.example",
          scope: "repository:a/b:pull,push",
        },
      },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([
      { scheme: "basic", params: { realm: "Registry Realm" } },
    ]);
  });

  it("finds the next page in a Link header", () => {
    const base = new URL("https://r.example/v2/_catalog");
    expect(nextLink('</v2/_catalog?last=a%2Fb&n=100>; rel="next"', base)?.href).toBe(
      "https://r.example/v2/_catalog?last=a%2Fb&n=100",
    );
    expect(nextLink('<https://r.example/x>; rel="prev", </y>; rel="next"', base)?.href).toBe(
      "https://r.example/y",
    );
    expect(nextLink(null, base)).toBeUndefined();
    expect(nextLink('</x>; rel="prev"', base)).toBeUndefined();
  });
});
