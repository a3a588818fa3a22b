// A real OCI registry for tests and benches: CNCF distribution 2.8.2 (Debian's `docker-registry`)
// on 127.0.0.1 (or another address of this host a test owns) with its storage in a temp dir, plus helpers that push images through the registry's
// HTTP API alone (no Docker engine), and a small loopback proxy that can add latency, count requests
// and answer some requests itself (errors, auth challenges, pagination).

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net, { type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import { killOnExit } from "./kill-on-exit";

export const DOCKER_REGISTRY = "/usr/bin/docker-registry";
export const INSTALL_HINT = "apt-get install -y docker-registry";

export const MEDIA = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  buildkitCacheConfig: "application/vnd.buildkit.cacheconfig.v0",
} as const;

/** Throws (with the install command) when the registry binary is absent: tests must fail, not skip. */
export function assertRegistryInstalled(): void {
  if (!existsSync(DOCKER_REGISTRY)) {
    throw new Error(
      `${DOCKER_REGISTRY} is missing: the OCI drift tests run a real registry. Install it with: ${INSTALL_HINT}`,
    );
  }
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

// ---------------------------------------------------------------------------------------------
// The registry process
// ---------------------------------------------------------------------------------------------

export interface LocalRegistry {
  /** host:port, what an OciBackend takes. */
  readonly host: string;
  /** http://host:port */
  readonly url: string;
  readonly pid: number;
  readonly rootDir: string;
  /** The registry's stderr so far (its log), for failure messages. */
  log(): string;
  /** SIGTERM (SIGKILL after 5 s) to this registry's pid only, then removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A free port on `host` (loopback by default), by letting the kernel pick one and releasing it. Another
 * process may grab it before the registry binds; startRegistry retries on that.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === "object") resolve(addr.port);
        else reject(new Error("no port"));
      });
    });
  });
}

/**
 * `bind` is the address it listens on: loopback unless a test gives the host side of a veth it created, so
 * a builder in another network namespace can reach it.
 */
export async function startRegistry(bind = "127.0.0.1"): Promise<LocalRegistry> {
  assertRegistryInstalled();
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(bind, await freePort(bind));
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

async function startOnce(bind: string, port: number): Promise<LocalRegistry> {
  const rootDir = await mkdtemp(path.join(os.tmpdir(), "oci-registry-"));
  // YAML is a superset of JSON, so the config needs no YAML library. Not Debian's default config: that
  // one listens on all interfaces and turns on htpasswd auth.
  const config = {
    version: "0.1",
    log: { level: "warn", accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: path.join(rootDir, "data") }, delete: { enabled: true } },
    // A fixed secret silences the "generated random secret" warning; it only signs upload state.
    http: { addr: `${bind}:${port}`, secret: randomBytes(16).toString("hex") },
  };
  const configPath = path.join(rootDir, "config.yml");
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const child = spawn(DOCKER_REGISTRY, ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    // Keep the tail only: a long test run must not grow this without bound.
    stderr = (stderr + chunk).slice(-20_000);
  });
  const pid = child.pid;
  if (pid === undefined) {
    await rm(rootDir, { recursive: true, force: true });
    throw new Error(`could not spawn ${DOCKER_REGISTRY}`);
  }
  killOnExit(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await killAndWait(child, exited);
      await rm(rootDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const url = `http://${bind}:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`docker-registry exited before serving on ${url}: ${stderr.trim()}`);
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not answer GET /v2/ on ${url} within 15 s: ${stderr.trim()}`);
    }
    await sleep(50);
  }
  return { host: `${bind}:${port}`, url, pid, rootDir, log: () => stderr, stop };
}

async function killAndWait(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Pushing through the HTTP API
// ---------------------------------------------------------------------------------------------

async function expectStatus(res: Response, want: number, what: string): Promise<void> {
  if (res.status !== want) {
    throw new Error(`${what}: HTTP ${res.status} (wanted ${want}): ${await res.text()}`);
  }
}

/** Monolithic upload: POST to open a session, PUT the bytes with ?digest= to close it. */
export async function uploadBlob(baseUrl: string, repo: string, data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const digest = sha256(bytes);
  const start = await fetch(`${baseUrl}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  await expectStatus(start, 202, `POST ${repo} blob upload`);
  await start.arrayBuffer();
  const location = start.headers.get("location");
  if (!location) throw new Error("blob upload: no Location header");
  // Location carries the upload's signed state in its query; it may be relative.
  const put = new URL(location, baseUrl);
  put.searchParams.set("digest", digest);
  const done = await fetch(put, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes,
  });
  await expectStatus(done, 201, `PUT ${repo} blob ${digest}`);
  await done.arrayBuffer();
  return digest;
}

/** PUT a manifest under a tag or digest; returns the digest the registry reports (checked against ours). */
export async function putManifest(
  baseUrl: string,
  repo: string,
  reference: string,
  body: string,
  mediaType: string,
): Promise<string> {
  const res = await fetch(`${baseUrl}/v2/${repo}/manifests/${reference}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body,
  });
  await expectStatus(res, 201, `PUT ${repo} manifest ${reference}`);
  await res.arrayBuffer();
  const digest = sha256(body);
  const reported = res.headers.get("docker-content-digest");
  if (reported !== digest) throw new Error(`registry reported digest ${reported}, body is ${digest}`);
  return digest;
}

export async function deleteManifest(baseUrl: string, repo: string, digest: string): Promise<void> {
  const res = await fetch(`${baseUrl}/v2/${repo}/manifests/${digest}`, { method: "DELETE" });
  await expectStatus(res, 202, `DELETE ${repo} manifest ${digest}`);
  await res.arrayBuffer();
}

export interface PushImageOptions {
  /** Tags to put the manifest under (none: push by digest only, i.e. untagged). */
  tags: string[];
  /** The config's `created`; null leaves the field out (what some builders do). Default: now. */
  created?: string | null;
  format?: "oci" | "docker";
  architecture?: string;
  /** Makes the layer (and so the manifest digest) unique; default random. */
  seed?: string;
  /** Config media type override (e.g. the BuildKit cache config). */
  configMediaType?: string;
  /** Extra config fields (merged over the defaults). */
  configExtra?: Record<string, unknown>;
}

export interface PushedImage {
  digest: string;
  mediaType: string;
  /** Size of the manifest body, for index descriptors. */
  size: number;
  configDigest: string;
  layerDigest: string;
  platform: { architecture: string; os: string };
}

/** A one-layer image: a gzipped layer, an image config, a manifest, PUT under each tag. */
export async function pushImage(baseUrl: string, repo: string, opts: PushImageOptions): Promise<PushedImage> {
  const format = opts.format ?? "oci";
  const architecture = opts.architecture ?? "amd64";
  const seed = opts.seed ?? randomBytes(8).toString("hex");
  // Not a real tar: the registry never looks inside layers. It is gzip, so the diff_id is honest.
  const uncompressed = Buffer.from(`layer ${seed}\n`);
  const layer = gzipSync(uncompressed);
  const layerDigest = await uploadBlob(baseUrl, repo, layer);

  const config: Record<string, unknown> = {
    architecture,
    os: "linux",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
    rootfs: { type: "layers", diff_ids: [sha256(uncompressed)] },
    history: [{ created_by: `test layer ${seed}` }],
    ...opts.configExtra,
  };
  const created = opts.created === undefined ? new Date().toISOString() : opts.created;
  if (created !== null) config.created = created;
  const configBody = JSON.stringify(config);
  const configDigest = await uploadBlob(baseUrl, repo, configBody);

  const oci = format === "oci";
  const mediaType = oci ? MEDIA.ociManifest : MEDIA.dockerManifest;
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: opts.configMediaType ?? (oci ? MEDIA.ociConfig : MEDIA.dockerConfig),
      digest: configDigest,
      size: Buffer.byteLength(configBody),
    },
    layers: [
      { mediaType: oci ? MEDIA.ociLayer : MEDIA.dockerLayer, digest: layerDigest, size: layer.length },
    ],
  });
  const digest = await putManifest(baseUrl, repo, sha256(manifest), manifest, mediaType);
  for (const tag of opts.tags) await putManifest(baseUrl, repo, tag, manifest, mediaType);
  return {
    digest,
    mediaType,
    size: Buffer.byteLength(manifest),
    configDigest,
    layerDigest,
    platform: { architecture, os: "linux" },
  };
}

/**
 * What `buildx --cache-to type=registry,image-manifest=true,oci-mediatypes=true` pushes as `buildcache`:
 * an OCI manifest whose config is BuildKit's cache config (no `created`), unless `created` is given, which
 * lets a test prove the cache image is excluded rather than merely lacking a date.
 */
export async function pushCacheImage(
  baseUrl: string,
  repo: string,
  tag: string,
  created: string | null = null,
): Promise<PushedImage> {
  return await pushImage(baseUrl, repo, {
    tags: [tag],
    created,
    configMediaType: MEDIA.buildkitCacheConfig,
    configExtra: { layers: [{ blob: "sha256:0", parent: -1 }], records: [] },
  });
}

/** An image index (multi-platform) over already pushed manifests, PUT under each tag. */
export async function pushIndex(
  baseUrl: string,
  repo: string,
  tags: string[],
  children: PushedImage[],
  format: "oci" | "docker" = "oci",
): Promise<{ digest: string; mediaType: string }> {
  const mediaType = format === "oci" ? MEDIA.ociIndex : MEDIA.dockerList;
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    manifests: children.map((c) => ({
      mediaType: c.mediaType,
      digest: c.digest,
      size: c.size,
      platform: c.platform,
    })),
  });
  const digest = await putManifest(baseUrl, repo, sha256(body), body, mediaType);
  for (const tag of tags) await putManifest(baseUrl, repo, tag, body, mediaType);
  return { digest, mediaType };
}

// ---------------------------------------------------------------------------------------------
// A loopback proxy: latency, request log, injected answers
// ---------------------------------------------------------------------------------------------

export interface ProxyRequest {
  /** 1-based, in arrival order. */
  n: number;
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: http.IncomingHttpHeaders;
}

export type InterceptReply =
  | { status: number; headers?: Record<string, string>; body?: string }
  /** Accept the request and never answer (until the proxy closes). */
  | "hang";

/** An upstream answer, ready to send on as it is. */
export interface ForwardedAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

// Hop-by-hop headers, and those fetch undid (it decoded the body): node sets the framing itself.
const NOT_PASSED_ON = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-encoding",
  "content-length",
]);

/**
 * `req` sent to `target` as received (but its hop-by-hop headers), redirects not followed, and the
 * answer with its whole body. A HEAD answer keeps the length of the body it did not send.
 */
export async function forward(
  target: string,
  req: { method: string; url: string; headers: http.IncomingHttpHeaders },
  body?: Buffer,
): Promise<ForwardedAnswer> {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k === "host" || NOT_PASSED_ON.has(k)) continue;
    headers.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  const upstream = await fetch(`${target}${req.url}`, {
    method: req.method,
    headers,
    body: body && body.length > 0 ? body : undefined,
    redirect: "manual",
  });
  const out: Record<string, string> = {};
  upstream.headers.forEach((v, k) => {
    if (!NOT_PASSED_ON.has(k)) out[k] = v;
  });
  const data = Buffer.from(await upstream.arrayBuffer());
  const length = upstream.headers.get("content-length");
  if (req.method === "HEAD") {
    if (length) out["content-length"] = length;
  } else out["content-length"] = String(data.length);
  return { status: upstream.status, headers: out, body: data };
}

export interface ProxyOptions {
  /** Where unintercepted requests go (http://host:port); without it they get 502. */
  target?: string;
  /** Added before each request is handled: loopback round trips are otherwise free. */
  latencyMs?: number;
  /** Answer a request here instead of forwarding it (return undefined to forward). */
  intercept?: (req: ProxyRequest) => InterceptReply | undefined | Promise<InterceptReply | undefined>;
}

export interface LoopbackProxy {
  readonly host: string;
  readonly url: string;
  readonly requests: ProxyRequest[];
  /** Most requests in flight at once, since start. */
  readonly maxInFlight: number;
  /** Connections accepted, since start. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startProxy(opts: ProxyOptions): Promise<LoopbackProxy> {
  const requests: ProxyRequest[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;

  const server = http.createServer((req, res) => {
    const record: ProxyRequest = {
      n: requests.length + 1,
      method: req.method ?? "GET",
      url: req.url ?? "/",
      headers: req.headers,
    };
    requests.push(record);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once("close", () => inFlight--);
    handle(record, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(String(err));
      else res.destroy();
    });
  });
  let connections = 0;
  server.on("connection", (s) => {
    connections++;
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });

  async function handle(record: ProxyRequest, req: http.IncomingMessage, res: http.ServerResponse) {
    const body = await readAll(req);
    if (opts.latencyMs) await sleep(opts.latencyMs);
    const reply = await opts.intercept?.(record);
    if (reply === "hang") return;
    if (reply) {
      res.writeHead(reply.status, reply.headers).end(reply.body ?? "");
      return;
    }
    if (!opts.target) {
      res.writeHead(502).end("no target");
      return;
    }
    const answer = await forward(opts.target, record, body);
    res.writeHead(answer.status, answer.headers).end(record.method === "HEAD" ? undefined : answer.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("unexpected server address");
  const host = `127.0.0.1:${addr.port}`;
  return {
    host,
    url: `http://${host}`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    get connections() {
      return connections;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

async function readAll(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
