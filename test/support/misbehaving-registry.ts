// Registries that misbehave on purpose, for the drift check's fault tests: real HTTP servers on 127.0.0.1
// (node:http, or raw sockets where an HTTP library would not misbehave enough), never a mock of the client.
import { createHash } from "node:crypto";
import http from "node:http";
import net, { type Socket } from "node:net";
import v8 from "node:v8";
import vm from "node:vm";

export interface SeenRequest {
  method: string;
  url: string;
}

export interface FaultyServer {
  /** host:port, what an OciBackend takes. */
  readonly host: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/**
 * V8's gc(), without needing the process to be started with --expose-gc. Calling it in a server's loop
 * collects whatever the client only holds weakly: that is how Node 20 loses an AbortSignal.timeout()
 * combined with AbortSignal.any() (the request then never aborts).
 */
export function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

function listen(server: net.Server, sockets: Set<Socket>, requests: SeenRequest[]): Promise<FaultyServer> {
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (!addr || typeof addr === "string") return reject(new Error("unexpected server address"));
      resolve({
        host: `127.0.0.1:${addr.port}`,
        requests,
        close: async () => {
          const closed = new Promise<void>((done) => server.close(() => done()));
          for (const s of sockets) s.destroy();
          await closed;
        },
      });
    });
  });
}

/** An HTTP server whose every request goes to `handler` (which may never answer). */
export function startHttpServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => void,
): Promise<FaultyServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const seen = { method: req.method ?? "GET", url: req.url ?? "/" };
    requests.push(seen);
    handler(req, res, seen);
  });
  // Node's own server timeouts would end a hung request for us: the misbehaviour must be the server's.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 60_000;
  return listen(server, sockets, requests);
}

/** Accepts connections and reads requests, and never sends a byte back. */
export function startSilentServer(gc?: () => void): Promise<FaultyServer> {
  return startHttpServer(() => {
    gc?.();
  });
}

/**
 * Answers 200 with a JSON content type at once, then trickles the body: one space every `everyMs`, for ever.
 * Each byte arrives well within any per-read idle timeout, so only a deadline on the whole body ends it.
 */
export function startTricklingBodyServer(everyMs: number, gc?: () => void): Promise<FaultyServer> {
  return startHttpServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write("{");
    const timer = setInterval(() => {
      gc?.();
      res.write(" ");
    }, everyMs);
    res.once("close", () => clearInterval(timer));
  });
}

/**
 * Answers 200 at once, then sends body as fast as the client reads it, for ever: a deadline alone would
 * let it fill the client's memory first.
 */
export function startFloodingBodyServer(): Promise<FaultyServer> {
  const chunk = Buffer.alloc(1024 * 1024, " ");
  return startHttpServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write("{");
    const more = () => {
      while (res.write(chunk)) {}
    };
    res.on("drain", more);
    more();
  });
}

/**
 * Raw sockets: sends a status line, then one byte of a header every `everyMs`, for ever (an HTTP server
 * library would not let a handler do that).
 */
export function startTricklingHeadersServer(everyMs: number, gc?: () => void): Promise<FaultyServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    let started = false;
    socket.on("data", (chunk: Buffer) => {
      if (started) return;
      started = true;
      const [method = "", url = ""] = chunk.toString("latin1").split(" ");
      requests.push({ method, url });
      socket.write("HTTP/1.1 200 OK\r\nX-Slow: ");
      const timer = setInterval(() => {
        gc?.();
        socket.write("a");
      }, everyMs);
      socket.once("close", () => clearInterval(timer));
    });
    socket.on("error", () => {});
  });
  return listen(server, sockets, requests);
}

export function sha256(data: string | Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** A one-image repository's blobs as a registry serves them: a config with `created`, and its manifest. */
export function imageBlobs(created: string): { config: string; manifest: string; digest: string } {
  const config = JSON.stringify({ architecture: "amd64", os: "linux", created, rootfs: { type: "layers" } });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha256(config),
      size: Buffer.byteLength(config),
    },
    layers: [],
  });
  return { config, manifest, digest: sha256(manifest) };
}

/**
 * A registry holding one repository whose tags all point to one image, listing `tags` in one tags/list page
 * (as distribution 2.8.2 does without `n`). `servesTags` false makes it answer 404 MANIFEST_UNKNOWN for every
 * tag it lists: a registry that lists tags it cannot serve.
 */
export function startTagListingRegistry(opts: {
  repository: string;
  tags: string[];
  created: string;
  servesTags?: boolean;
}): Promise<FaultyServer & { digest: string }> {
  const { config, manifest, digest } = imageBlobs(opts.created);
  const configDigest = sha256(config);
  const listing = JSON.stringify({ name: opts.repository, tags: opts.tags });
  const known = new Set(opts.tags);
  const prefix = `/v2/${opts.repository}`;
  const unknown = (res: http.ServerResponse, code: string) =>
    res
      .writeHead(404, { "content-type": "application/json" })
      .end(JSON.stringify({ errors: [{ code, message: "unknown" }] }));
  return startHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === `${prefix}/tags/list`) {
      res.writeHead(200, { "content-type": "application/json" }).end(listing);
      return;
    }
    if (url.pathname.startsWith(`${prefix}/manifests/`)) {
      const ref = decodeURIComponent(url.pathname.slice(`${prefix}/manifests/`.length));
      if (opts.servesTags === false || (ref !== digest && !known.has(ref))) {
        unknown(res, "MANIFEST_UNKNOWN");
        return;
      }
      const headers = {
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "docker-content-digest": digest,
        "content-length": String(Buffer.byteLength(manifest)),
      };
      res.writeHead(200, headers).end(req.method === "HEAD" ? undefined : manifest);
      return;
    }
    if (url.pathname === `${prefix}/blobs/${configDigest}`) {
      res.writeHead(200, { "content-type": "application/octet-stream" }).end(config);
      return;
    }
    if (url.pathname.startsWith("/v2/") && url.pathname.endsWith("/tags/list")) {
      unknown(res, "NAME_UNKNOWN");
      return;
    }
    unknown(res, "NOT_FOUND");
  }).then((server) => Object.assign(server, { digest }));
}
