import { execFile } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, httpTransport, MAX_REDIRECTS } from "./transport";

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  cookie?: string;
}

/** A server answering by path; `seen` has every request it got. */
async function server(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const s = http.createServer((req, res) => {
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
    });
    handle(req, res);
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  return { seen, origin, close: () => new Promise((r) => s.close(r)), server: s };
}

async function text(answer: Answer): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const c of answer.body) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

const NEVER = new AbortController().signal;
const secret = { authorization: "Bearer s3cret", cookie: "c=1", accept: "x" };

let storage: Awaited<ReturnType<typeof server>>;
let registry: Awaited<ReturnType<typeof server>>;

beforeAll(async () => {
  storage = await server((_req, res) => res.end("blob"));
  registry = await server((req, res) => {
    const [, kind, n] = req.url?.split("/") ?? [];
    const redirect = (status: number, location: string) => res.writeHead(status, { location }).end("moved");
    if (kind === "away") return redirect(307, `${storage.origin}/blob`);
    if (kind === "here") return redirect(302, "/final");
    if (kind === "see-other") return redirect(303, "/final");
    if (kind === "loop") return redirect(302, `/loop/${Number(n) + 1}`);
    if (kind === "ftp") return redirect(302, "ftp://127.0.0.1/x");
    if (kind === "moved-trickling") {
      // A redirect whose body never ends, to a path that never answers.
      res.writeHead(302, { location: "/hang" });
      res.write("moving");
      return;
    }
    if (kind === "hang") return;
    if (kind === "trickle") {
      res.writeHead(200);
      res.write("first");
      return;
    }
    res.end(`${req.method} ${req.url}`);
  });
});

afterAll(async () => {
  await Promise.all([storage.close(), registry.close()]);
});

const send = (path: string, method = "GET", signal = NEVER) =>
  httpTransport(4)({ method, url: new URL(path, registry.origin), headers: secret, signal });

describe("httpTransport", () => {
  it("follows a redirect to another origin without Authorization or Cookie", async () => {
    const answer = await send("/away").answer;
    expect(answer.status).toBe(200);
    expect(await text(answer)).toBe("blob");
    expect(storage.seen.at(-1)).toEqual({
      method: "GET",
      url: "/blob",
      authorization: undefined,
      cookie: undefined,
    });
  });

  it("keeps them on a redirect within the origin; a 303 turns a GET into a GET and a HEAD stays a HEAD", async () => {
    expect(await text(await send("/here").answer)).toBe("GET /final");
    expect(registry.seen.at(-1)?.authorization).toBe("Bearer s3cret");
    const head = await send("/see-other", "HEAD").answer;
    expect(head.status).toBe(200);
    expect(registry.seen.at(-1)).toMatchObject({ method: "HEAD", url: "/final" });
  });

  it(`answers with the redirect itself after ${MAX_REDIRECTS} hops, and never follows one to another scheme`, async () => {
    const before = registry.seen.length;
    const looped = await send("/loop/0").answer;
    expect(looped.status).toBe(302);
    expect(looped.headers.get("location")).toBe(`/loop/${MAX_REDIRECTS + 1}`);
    expect(registry.seen.length - before).toBe(MAX_REDIRECTS + 1);
    const ftp = await send("/ftp").answer;
    expect(ftp.status).toBe(302);
  });

  it("cancel() ends a body in the middle with its reason; so does the caller's signal", async () => {
    const call = send("/trickle");
    const answer = await call.answer;
    setTimeout(() => call.cancel(new Error("deadline passed")), 20);
    await expect(text(answer)).rejects.toThrow("deadline passed");

    const abort = new AbortController();
    const signalled = send("/trickle", "GET", abort.signal);
    const body = text(await signalled.answer);
    abort.abort(new Error("check ended"));
    await expect(body).rejects.toThrow();
  });

  it("cancel() after a redirect whose body never ended rejects the next hop, and the redirect's end is harmless", async () => {
    const call = send("/moved-trickling");
    await new Promise((r) => setTimeout(r, 50));
    call.cancel(new Error("deadline passed"));
    await expect(call.answer).rejects.toThrow("deadline passed");
    // The redirect's connection, cut mid-body: nothing of it may surface as an uncaught error.
    registry.server.closeAllConnections();
    await new Promise((r) => setTimeout(r, 50));
  });

  it("cancel() before the answer rejects it", async () => {
    const call = send("/trickle");
    call.cancel(new Error("too late"));
    await expect(call.answer).rejects.toThrow("too late");
  });

  it("leaves no idle connection holding the process open", async () => {
    // A child that makes a request and returns: it must exit at once, not when the server drops the socket.
    const script = `
      const m = await import(${JSON.stringify(pathToFileURL(path.join(__dirname, "transport.ts")).href)});
      const httpTransport = m.httpTransport ?? m.default.httpTransport;
      const a = await httpTransport(2)({ method: "GET", url: new URL("${registry.origin}/x"), headers: {}, signal: new AbortController().signal }).answer;
      for await (const _ of a.body);
      console.log(a.status);`;
    const started = Date.now();
    // Not spawnSync: the server answering the child runs on this process's event loop.
    const child = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", script],
      { encoding: "utf8", timeout: 20_000 },
    );
    expect(child.stderr).toBe("");
    expect(child.stdout.trim()).toBe("200");
    // The server keeps idle connections for 5 s (Node's default keepAliveTimeout).
    expect(Date.now() - started).toBeLessThan(4_500);
  });
});
