/**
 * bench:drift's remote registry, run as its own process (forked by remote-host.ts). A registry the check
 * talks to is remote: its CPU is not on the checking machine's cores, only its round trip is. On this
 * machine the real registry shares the two cores with the check, so in "remote" mode this process
 * answers each request from the real registry's own answer to it, recorded the first time it was asked
 * (byte for byte: status, headers, body), after the round trip. In "co-located" mode it forwards every
 * request to the registry, which is what the check costs when the registry runs beside it.
 *
 * The parent asks over IPC for a fresh listener per timed check (so no check reuses another's
 * connections) and, when the check ends, for that listener's count of requests and its peak in flight.
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { type ForwardedAnswer, forward } from "../../test/support/oci-registry";

export type RemoteMode = "remote" | "co-located";

export type ToRemote = { cmd: "open"; mode: RemoteMode } | { cmd: "close" };
export type FromRemote =
  | { cmd: "opened"; port: number }
  | { cmd: "closed"; requests: number; peakInFlight: number; recorded: number };

const target = process.env.REMOTE_TARGET ?? "";
const latencyMs = Number(process.env.REMOTE_LATENCY_MS ?? "0");
/** By method, path and Accept: every answer the bench's workload gets is the same on every ask. */
const recorded = new Map<string, ForwardedAnswer>();

function listen(mode: RemoteMode): Promise<{ server: http.Server; stats: () => FromRemote }> {
  let requests = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    requests++;
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    res.once("close", () => inFlight--);
    req.resume();
    const key = `${req.method} ${req.url} ${req.headers.accept ?? ""}`;
    const answer = async () => {
      await sleep(latencyMs);
      let reply = mode === "remote" ? recorded.get(key) : undefined;
      if (!reply) {
        reply = await forward(target, {
          method: req.method ?? "GET",
          url: req.url ?? "/",
          headers: req.headers,
        });
        if (reply.status < 500) recorded.set(key, reply);
      }
      res.writeHead(reply.status, reply.headers);
      res.end(req.method === "HEAD" ? undefined : reply.body);
    };
    answer().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(String(err));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  const stats = (): FromRemote => {
    for (const s of sockets) s.destroy();
    return { cmd: "closed", requests, peakInFlight, recorded: recorded.size };
  };
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, stats })));
}

let current: Awaited<ReturnType<typeof listen>> | undefined;
process.on("message", async (msg: ToRemote) => {
  if (msg.cmd === "open") {
    current = await listen(msg.mode);
    process.send?.({
      cmd: "opened",
      port: (current.server.address() as AddressInfo).port,
    } satisfies FromRemote);
  } else if (current) {
    const { server, stats } = current;
    current = undefined;
    const reply = stats();
    await new Promise((resolve) => server.close(resolve));
    process.send?.(reply);
  }
});
// The bench dying must not leave this process behind.
process.on("disconnect", () => process.exit(0));
