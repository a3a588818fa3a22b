import pLimit from "p-limit";
import { describe, expect, it } from "vitest";
import { describeNetworkError, type FetchPolicy, fetchRetrying, GaveUp } from "./fetch";
import type { Transport } from "./transport";

const URL_ = new URL("http://127.0.0.1:1/v2/a/tags/list");
const NEVER = new AbortController().signal;

/** A fetch answering from `answers` in turn (a function is called with the request's signal). */
function scripted(answers: Array<Response | ((signal: AbortSignal) => Promise<Response>) | Error>) {
  const calls: Array<{ headers: Record<string, string> }> = [];
  const impl = (async (_url, init) => {
    calls.push({ headers: init?.headers as Record<string, string> });
    const next = answers[Math.min(calls.length, answers.length) - 1];
    if (next instanceof Error) throw next;
    if (typeof next === "function") return next(init?.signal as AbortSignal);
    return next?.clone();
  }) as typeof fetch;
  return { impl, calls };
}

/** A fetch() as a Transport, so the scripted answers above are Responses. */
function fetchTransport(f: typeof fetch): Transport {
  return ({ method, url, headers, signal }) => {
    const own = new AbortController();
    const answer = f(url, { method, headers, signal: AbortSignal.any([signal, own.signal]) }).then((res) => {
      const body = res.body ?? (async function* () {})();
      return { status: res.status, headers: res.headers, body, discard: () => void res.body?.cancel() };
    });
    return { answer, cancel: (reason) => own.abort(reason) };
  };
}

const policy = (impl: typeof fetch, over: Partial<FetchPolicy> = {}): FetchPolicy => ({
  transport: fetchTransport(impl),
  timeoutMs: 1_000,
  attempts: 3,
  retryBaseMs: 1,
  maxRetryAfterMs: 50,
  ...over,
});

const hang = (signal: AbortSignal) =>
  new Promise<Response>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

describe("fetchRetrying", () => {
  it("retries 5xx and 429, then returns the answer with its body, sending the user agent", async () => {
    const f = scripted([
      new Response("", { status: 503 }),
      new Response("", { status: 429, headers: { "retry-after": "3600" } }),
      new Response("ok"),
    ]);
    const started = Date.now();
    const reply = await fetchRetrying(policy(f.impl), "GET", URL_, { accept: "x" }, NEVER);
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe("ok");
    expect(f.calls).toHaveLength(3);
    expect(f.calls[0]?.headers).toEqual({ "user-agent": "molecule-images-drift", accept: "x" });
    // The hour asked for is capped at maxRetryAfterMs.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("returns any other status at once, 404 and 401 included", async () => {
    const f = scripted([new Response("", { status: 404 })]);
    expect((await fetchRetrying(policy(f.impl), "GET", URL_, {}, NEVER)).status).toBe(404);
    expect(f.calls).toHaveLength(1);
  });

  it("gives up saying the method, the path, the last failure and the tries", async () => {
    const body = JSON.stringify({ errors: [{ code: "UNAVAILABLE" }] });
    const f = scripted([new Response(body, { status: 500 })]);
    const err = await fetchRetrying(policy(f.impl), "GET", URL_, {}, NEVER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GaveUp);
    expect((err as Error).message).toBe("GET /v2/a/tags/list: HTTP 500 (UNAVAILABLE) after 3 attempts");
    const one = scripted([new Response("", { status: 502 })]);
    await expect(fetchRetrying(policy(one.impl, { attempts: 1 }), "HEAD", URL_, {}, NEVER)).rejects.toThrow(
      "HEAD /v2/a/tags/list: HTTP 502 after 1 attempt",
    );
  });

  it("times an attempt out, headers or body, and says which", async () => {
    const silent = scripted([hang]);
    await expect(
      fetchRetrying(policy(silent.impl, { timeoutMs: 20, attempts: 2 }), "GET", URL_, {}, NEVER),
    ).rejects.toThrow("timed out: no answer within 20 ms after 2 attempts");
    expect(silent.calls).toHaveLength(2);
    const trickle = scripted([
      async (signal) => new Response(new ReadableStream({ pull: () => hang(signal).then(() => undefined) })),
    ]);
    await expect(
      fetchRetrying(policy(trickle.impl, { timeoutMs: 20, attempts: 1 }), "GET", URL_, {}, NEVER),
    ).rejects.toThrow(
      "timed out: the body did not arrive within 20 ms (HTTP 200 headers did) after 1 attempt",
    );
  });

  it("retries a network error, named by its code", async () => {
    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    const f = scripted([refused, new Response("ok")]);
    expect((await fetchRetrying(policy(f.impl), "GET", URL_, {}, NEVER)).status).toBe(200);
    expect(describeNetworkError(refused)).toBe("connection refused (ECONNREFUSED)");
    expect(describeNetworkError({ cause: { code: "EWHAT" } })).toBe("network error (EWHAT)");
    expect(describeNetworkError(new Error("boom"))).toBe("network error (boom)");
  });

  it("a transport that throws as it sends fails that attempt like a network error, and is retried", async () => {
    let calls = 0;
    const throwing: Transport = () => {
      calls++;
      throw Object.assign(new Error("bad header"), { code: "ERR_INVALID_CHAR" });
    };
    const p = policy(scripted([]).impl, { transport: throwing, attempts: 2 });
    await expect(fetchRetrying(p, "GET", URL_, {}, NEVER)).rejects.toThrow(
      "GET /v2/a/tags/list: network error (ERR_INVALID_CHAR) after 2 attempts",
    );
    expect(calls).toBe(2);
  });

  it("the caller's signal ends it at once with its reason, mid-request or mid-backoff", async () => {
    const abort = new AbortController();
    const f = scripted([hang]);
    const run = fetchRetrying(policy(f.impl, { timeoutMs: 60_000 }), "GET", URL_, {}, abort.signal);
    setTimeout(() => abort.abort(new Error("deadline")), 10);
    await expect(run).rejects.toThrow("deadline");

    const backoff = new AbortController();
    const down = scripted([new Response("", { status: 503 })]);
    const waiting = fetchRetrying(
      policy(down.impl, { retryBaseMs: 60_000 }),
      "GET",
      URL_,
      {},
      backoff.signal,
    );
    setTimeout(() => backoff.abort(new Error("deadline")), 10);
    await expect(waiting).rejects.toThrow("deadline");
    expect(down.calls).toHaveLength(1);
  });

  it("runs each attempt within the policy's slot, and a backoff holds none", async () => {
    // One slot: a request waiting out its backoff must let another through, and no two attempts overlap.
    let inFlight = 0;
    let peak = 0;
    const order: string[] = [];
    const impl = (async (url: URL) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      const first = url.pathname === "/flaky" && !order.includes("flaky 503");
      order.push(`${url.pathname.slice(1)} ${first ? 503 : 200}`);
      return new Response("", { status: first ? 503 : 200 });
    }) as unknown as typeof fetch;
    const p = policy(impl, { retryBaseMs: 200, slot: pLimit(1) });
    const flaky = fetchRetrying(p, "GET", new URL("http://127.0.0.1:1/flaky"), {}, NEVER);
    const other = fetchRetrying(p, "GET", new URL("http://127.0.0.1:1/other"), {}, NEVER);
    expect((await Promise.all([flaky, other])).map((r) => r.status)).toEqual([200, 200]);
    expect(order).toEqual(["flaky 503", "other 200", "flaky 200"]);
    expect(peak).toBe(1);
  });

  it("an attempt's deadline starts when it has a slot, not while it queues for one", async () => {
    const impl = (async () => {
      await new Promise((r) => setTimeout(r, 60));
      return new Response("ok");
    }) as unknown as typeof fetch;
    const p = policy(impl, { timeoutMs: 100, attempts: 1, slot: pLimit(1) });
    // The third queues for ~120 ms, longer than its 100 ms deadline, and still gets its answer.
    const replies = await Promise.all([1, 2, 3].map(() => fetchRetrying(p, "GET", URL_, {}, NEVER)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
  });
});
