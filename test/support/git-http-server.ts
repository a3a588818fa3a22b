// A real git smart-HTTP server on loopback: Node's http server in front of
// git-http-backend run as CGI, with knobs for latency, bandwidth, auth, protocol v0 and
// injected failures.
//
// Standalone: tsx test/support/git-http-server.ts --root DIR [--latency-ms N]
//   [--bandwidth BYTES_PER_SEC] [--token T] [--port P]
// prints {"url": "..."} as its first stdout line and serves until SIGTERM/SIGINT.
// Spawn node_modules/.bin/tsx rather than `npx tsx`: npx dies on SIGTERM without passing it
// on, which orphans the server.

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { gitEnv } from "./git-fixtures";

export const GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";

export interface GitHttpServerOptions {
  /** Directory holding <owner>/<name>.git repos (GIT_PROJECT_ROOT). */
  root: string;
  /** Delay before each request is answered, emulating a round trip. */
  latencyMs?: number;
  /** Cap on response body bytes per second, shared by all connections. */
  bandwidthBytesPerSec?: number;
  /** Requests must authenticate with this token (Basic password, Bearer or `token`). */
  requireToken?: string;
  /** With requireToken: only these "owner/name" repos need it; others are public. */
  privateRepos?: string[];
  /**
   * Drop the client's Git-Protocol header so every exchange is protocol v0. A v0 client will
   * not even ask for a SHA that is not a ref tip: it fails with "Server does not allow
   * request for unadvertised object" because the server advertises no allow-*-sha1-in-want.
   */
  refuseShaWants?: boolean;
  /**
   * Return an HTTP status to answer the request with instead of serving it (decided after
   * latency, before auth). n counts requests from 1 since start or the last resetStats().
   */
  failRequests?: (req: { method: string; path: string; n: number }) => number | undefined;
  /** A path to redirect the request to (302, same server), or undefined to serve it. */
  redirect?: (path: string) => string | undefined;
  /** Default 0 (a free port). */
  port?: number;
  /** Serve https with this key and certificate (PEM), instead of plain http. */
  tls?: { key: string; cert: string };
}

export interface RequestRecord {
  method: string;
  /** URL path without the query string, e.g. /owner/name.git/git-upload-pack. */
  path: string;
  query: string;
  /** 0 until the response head is sent (or forever, if the server was killed first). */
  status: number;
  /** The raw Authorization header, if any. */
  authorization?: string;
  /** The raw Git-Protocol header, if any ("version=2" when the client speaks v2). */
  gitProtocol?: string;
  /** Response body bytes written. */
  bytesOut: number;
}

// Every CGI child (and the upload-pack/pack-objects it starts) is its own process group, so
// killing the group also reaches grandchildren that would otherwise outlive a killed
// http-backend. This set lets an exiting test process take them down with it.
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pgid of liveGroups) killGroup(pgid);
});

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** GCRA token bucket: reserving in arrival order keeps the cap global and fair enough. */
class Throttle {
  private tat = 0;
  constructor(private readonly rate: () => number | undefined) {}

  /** The unit handed to take(): small enough that the cap is smooth at low rates. */
  slice(): number {
    const rate = this.rate();
    return rate ? Math.min(16_384, Math.max(512, Math.floor(rate / 20))) : 65_536;
  }

  async take(bytes: number): Promise<void> {
    const rate = this.rate();
    if (!rate) return;
    const now = performance.now();
    const burstMs = (this.slice() * 1000) / rate;
    this.tat = Math.max(this.tat, now) + (bytes * 1000) / rate;
    const wait = this.tat - burstMs - now;
    if (wait > 0) await sleep(wait);
  }
}

function repoOf(urlPath: string): string | undefined {
  const [owner, name] = urlPath.split("/").filter(Boolean);
  return owner && name ? `${owner}/${name.replace(/\.git$/, "")}` : undefined;
}

function tokenFrom(authorization: string | undefined): string | undefined {
  const m = /^(\w+)\s+(.+)$/.exec(authorization?.trim() ?? "");
  if (!m?.[1] || !m[2]) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme === "bearer" || scheme === "token") return m[2];
  if (scheme !== "basic") return undefined;
  const decoded = Buffer.from(m[2], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

export class GitHttpServer {
  /** Live options: changing them affects the next request. */
  readonly options: GitHttpServerOptions;
  requests: RequestRecord[] = [];
  bytesOut = 0;
  /** TCP connections accepted since start or the last resetStats(). */
  connections = 0;
  /** Marks this server's CGI processes in their environment, see processIds(). */
  readonly id = randomUUID();

  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly children = new Set<ChildProcessWithoutNullStreams>();
  private readonly throttle: Throttle;
  private received = 0;
  private boundPort: number | undefined;
  private closed = false;

  constructor(options: GitHttpServerOptions) {
    this.options = { ...options, root: path.resolve(options.root) };
    this.throttle = new Throttle(() => this.options.bandwidthBytesPerSec);
    const serve = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end(`${String(err)}\n`);
        else res.destroy();
      });
    };
    this.server = options.tls ? https.createServer(options.tls, serve) : http.createServer(serve);
    this.server.on("connection", (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  get port(): number {
    if (this.boundPort === undefined) throw new Error("server was never started");
    return this.boundPort;
  }

  /** e.g. http://127.0.0.1:41234 — repos are at `${url}/<owner>/<name>.git`. */
  get url(): string {
    return `${this.options.tls ? "https" : "http"}://127.0.0.1:${this.port}`;
  }

  /**
   * Listens on 127.0.0.1: first on options.port (default: a free port), after kill() on the
   * same port again, so clients holding the URL can retry against a server that came back.
   * Node sets SO_REUSEADDR, so TIME_WAIT from the killed connections does not block it.
   */
  async start(): Promise<void> {
    if (this.closed) throw new Error("server is closed");
    if (this.server.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.boundPort ?? this.options.port ?? 0, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (!addr || typeof addr === "string") throw new Error("unexpected server address");
    this.boundPort = addr.port;
  }

  /**
   * Dies like a crashed server: stops listening, resets every connection (including ones in
   * the middle of a response) and SIGKILLs every CGI process group. start() may follow.
   */
  async kill(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      if (this.server.listening) this.server.close(() => resolve());
      else resolve();
    });
    for (const socket of this.sockets) socket.destroy();
    const exits = [...this.children].map(
      (child) =>
        new Promise<void>((resolve) => {
          // Once reaped, the pid may already belong to someone else: no signal then.
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          if (child.pid) killGroup(child.pid);
        }),
    );
    await Promise.all([stopped, ...exits]);
    // The group's grandchildren (upload-pack, pack-objects) got SIGKILL too, but may still be exiting
    // after the CGI process itself is reaped: wait until none is left, so "stopped" means stopped.
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
      const left = await this.processIds();
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** kill(), for good. Safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    await this.kill();
  }

  resetStats(): void {
    this.requests = [];
    this.bytesOut = 0;
    this.received = 0;
    this.connections = 0;
  }

  /**
   * PIDs of live processes this server started, found by the marker in their environment, so
   * grandchildren re-parented away from us are found too. Linux only (reads /proc).
   */
  async processIds(): Promise<number[]> {
    const marker = Buffer.from(`FIXTURE_GIT_SERVER=${this.id}\0`);
    const pids: number[] = [];
    for (const entry of await readdir("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      // Zombies and processes we may not inspect have an empty or unreadable environ.
      const environ = await readFile(`/proc/${entry}/environ`).catch(() => Buffer.alloc(0));
      if (environ.includes(marker)) pids.push(Number(entry));
    }
    return pids;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const n = ++this.received;
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const record: RequestRecord = {
      method: req.method ?? "GET",
      path: decodeURIComponent(url.pathname),
      query: url.search.slice(1),
      status: 0,
      bytesOut: 0,
    };
    if (req.headers.authorization !== undefined) record.authorization = req.headers.authorization;
    const gitProtocol = req.headers["git-protocol"];
    if (typeof gitProtocol === "string") record.gitProtocol = gitProtocol;
    this.requests.push(record);
    const o = this.options;

    if (o.latencyMs) await sleep(o.latencyMs);
    // The server may have been killed while we slept; its sockets are gone.
    if (res.destroyed) return;

    const moved = o.redirect?.(record.path);
    if (moved !== undefined) {
      record.status = 302;
      res.writeHead(302, { location: `${moved}${record.query ? `?${record.query}` : ""}` }).end();
      return;
    }
    const injected = o.failRequests?.({ method: record.method, path: record.path, n });
    if (injected !== undefined) {
      record.status = injected;
      res.writeHead(injected, { "content-type": "text/plain" }).end("injected failure\n");
      return;
    }

    const repo = repoOf(record.path);
    const needsToken =
      o.requireToken !== undefined &&
      (o.privateRepos === undefined || (repo !== undefined && o.privateRepos.map(repoOf).includes(repo)));
    if (needsToken && tokenFrom(record.authorization) !== o.requireToken) {
      record.status = 401;
      res.writeHead(401, { "www-authenticate": 'Basic realm="git"', "content-type": "text/plain" });
      res.end("authentication required\n");
      return;
    }

    await this.runCgi(req, res, record);
  }

  private async runCgi(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: RequestRecord,
  ): Promise<void> {
    const o = this.options;
    const h = req.headers;
    const env = gitEnv({
      GIT_PROJECT_ROOT: o.root,
      GIT_HTTP_EXPORT_ALL: "1",
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      SERVER_SOFTWARE: "git-fixtures",
      REQUEST_METHOD: record.method,
      PATH_INFO: record.path,
      QUERY_STRING: record.query,
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
      CONTENT_TYPE: h["content-type"],
      // Absent for chunked uploads (git sends big fetch negotiations chunked); http-backend
      // then reads the body until EOF.
      CONTENT_LENGTH: h["content-length"],
      // http-backend inflates gzip request bodies itself when told they are gzipped.
      HTTP_CONTENT_ENCODING: h["content-encoding"],
      // The only way protocol v2 reaches upload-pack; without it both sides fall back to v0.
      GIT_PROTOCOL: o.refuseShaWants ? undefined : record.gitProtocol,
      REMOTE_USER: record.authorization ? "fixture" : undefined,
      FIXTURE_GIT_SERVER: this.id,
    });
    const child = spawn(GIT_HTTP_BACKEND, [], { env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const pid = child.pid;
    this.children.add(child);
    if (pid) liveGroups.add(pid);
    const stderr: Buffer[] = [];
    child.stderr.on("data", (c: Buffer) => stderr.push(c));
    child.once("exit", () => {
      if (pid) liveGroups.delete(pid);
    });
    child.once("close", () => this.children.delete(child));
    const spawnFailed = new Promise<never>((_, reject) => child.once("error", reject));
    spawnFailed.catch(() => undefined);
    // A client that hangs up must not leave upload-pack packing for nobody.
    // (Only while unreaped: afterwards the pid may belong to someone else.)
    res.once("close", () => {
      if (!res.writableFinished && pid && child.exitCode === null && child.signalCode === null)
        killGroup(pid);
    });
    // http-backend exits without reading the body on errors such as 404; ignore EPIPE.
    child.stdin.on("error", () => undefined);
    req.pipe(child.stdin);

    try {
      await this.relay(child, res, record, spawnFailed, stderr);
    } finally {
      // A relay cut short leaves unread output, which would keep the pipe (and so the
      // child's "close") pending forever.
      child.stdout.destroy();
      child.stdin.destroy();
    }
  }

  private async relay(
    child: ChildProcessWithoutNullStreams,
    res: http.ServerResponse,
    record: RequestRecord,
    spawnFailed: Promise<never>,
    stderr: Buffer[],
  ): Promise<void> {
    let head = Buffer.alloc(0);
    let headersSent = false;
    const stdout = child.stdout[Symbol.asyncIterator]();
    while (true) {
      const next = await Promise.race([stdout.next(), spawnFailed]);
      if (next.done) break;
      const chunk = next.value as Buffer;
      if (headersSent) {
        await this.send(res, record, chunk);
        continue;
      }
      head = Buffer.concat([head, chunk]);
      const end = findHeaderEnd(head);
      if (!end) continue;
      const { status, headers } = parseCgiHeaders(head.subarray(0, end.start).toString("latin1"));
      record.status = status;
      if (res.destroyed) return;
      res.writeHead(status, headers);
      headersSent = true;
      await this.send(res, record, head.subarray(end.bodyStart));
    }
    if (!headersSent) {
      record.status = 502;
      if (!res.destroyed) {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`git-http-backend sent no CGI headers\n${Buffer.concat(stderr).toString("utf8")}`);
      }
      return;
    }
    res.end();
  }

  /** Writes with the global throttle and the socket's backpressure. */
  private async send(res: http.ServerResponse, record: RequestRecord, data: Buffer): Promise<void> {
    const slice = this.throttle.slice();
    for (let off = 0; off < data.length; off += slice) {
      const piece = data.subarray(off, off + slice);
      await this.throttle.take(piece.length);
      if (res.destroyed) throw new Error("connection closed");
      const flushed = res.write(piece);
      record.bytesOut += piece.length;
      this.bytesOut += piece.length;
      if (!flushed) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.on("drain", done);
          res.on("close", done);
        });
      }
    }
  }
}

function findHeaderEnd(buf: Buffer): { start: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf("\r\n\r\n");
  const lf = buf.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { start: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { start: lf, bodyStart: lf + 2 };
  return undefined;
}

function parseCgiHeaders(text: string): { status: number; headers: Record<string, string | string[]> } {
  let status = 200;
  const headers: Record<string, string | string[]> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "status") {
      status = Number.parseInt(value, 10) || 500;
      continue;
    }
    const prev = headers[name];
    headers[name] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return { status, headers };
}

export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const server = new GitHttpServer(options);
  await server.start();
  return server;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      root: { type: "string" },
      "latency-ms": { type: "string" },
      bandwidth: { type: "string" },
      token: { type: "string" },
      port: { type: "string" },
    },
  });
  if (!values.root)
    throw new Error("usage: git-http-server.ts --root DIR [--latency-ms N] [--bandwidth BPS]");
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const server = await startGitHttpServer({
    root: values.root,
    latencyMs: num(values["latency-ms"]),
    bandwidthBytesPerSec: num(values.bandwidth),
    requireToken: values.token,
    port: num(values.port),
  });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

// argv[1] rather than require.main: the file is also loaded by vitest, where CJS globals
// are not what they seem.
if (path.basename(process.argv[1] ?? "") === "git-http-server.ts") {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
