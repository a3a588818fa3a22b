// bench:drift's remote registry: what it replays must be the registry's own answer, and what it counts
// must be what the check sent, or the bench's figures mean nothing.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Remote, startRemote } from "../../bench/drift/remote-host";

let upstream: http.Server;
let hits = 0;
let remote: Remote;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    hits++;
    const body = JSON.stringify({ path: req.url, accept: req.headers.accept ?? null });
    res.writeHead(200, { "content-type": "application/json", "docker-content-digest": "sha256:abc" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  remote = await startRemote(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, 30);
});

afterAll(async () => {
  await remote.stop();
  await new Promise((resolve) => upstream.close(resolve));
});

describe("bench:drift's remote registry", () => {
  it("remote: asks the registry once per request, then replays its answer after the delay", async () => {
    hits = 0;
    const host = await remote.open("remote");
    const get = () => fetch(`http://${host}/v2/a/manifests/t`, { headers: { accept: "x/y" } });
    const first = await get();
    const started = performance.now();
    const second = await get();
    const ms = performance.now() - started;
    const head = await fetch(`http://${host}/v2/a/manifests/t`, {
      method: "HEAD",
      headers: { accept: "x/y" },
    });
    const served = await remote.close();
    const body = await first.text();
    expect(JSON.parse(body)).toEqual({ path: "/v2/a/manifests/t", accept: "x/y" });
    expect(await second.text()).toBe(body);
    expect(second.headers.get("docker-content-digest")).toBe("sha256:abc");
    expect(head.headers.get("docker-content-digest")).toBe("sha256:abc");
    expect(ms).toBeGreaterThanOrEqual(29);
    // The GET twice (one recorded answer) and the HEAD once.
    expect(hits).toBe(2);
    expect(served.requests).toBe(3);
  });

  it("co-located: every request reaches the registry", async () => {
    hits = 0;
    const host = await remote.open("co-located");
    await Promise.all([1, 2, 3].map(() => fetch(`http://${host}/v2/b/tags/list`).then((r) => r.text())));
    const served = await remote.close();
    expect(hits).toBe(3);
    expect(served.requests).toBe(3);
    expect(served.peakInFlight).toBe(3);
  });
});
