/**
 * One registry request with a deadline per attempt covering the headers and the whole body, retried on
 * lib/retry when the answer is 429 or 5xx, or the attempt met a network error or its deadline: after what
 * Retry-After asks (within a cap), else a jittered doubling backoff. Reads the body.
 *
 * The deadline is a timer cancelling the attempt's call, cleared when the attempt ends: the event loop
 * holds a pending timer strongly. Not AbortSignal.any([signal, AbortSignal.timeout()]): Node 20 can
 * garbage-collect that timeout signal, and a registry that never answers then hangs the check for good.
 */
import { retry } from "../../retry/retry";
import { retryAfterMs } from "../../retry/retry-after";
import { describeErrors } from "./body";
import type { Answer, Call, ReplyHeaders, Transport } from "./transport";

const USER_AGENT = "molecule-images-drift";

export interface Reply {
  status: number;
  headers: ReplyHeaders;
  body: Buffer;
}

export interface FetchPolicy {
  transport: Transport;
  /** Per attempt, headers and the whole body. */
  timeoutMs: number;
  attempts: number;
  /** The first backoff, doubled for each later one. */
  retryBaseMs: number;
  /** Cap on an honoured Retry-After. */
  maxRetryAfterMs: number;
  /** Largest body read; default MAX_BODY_BYTES. */
  maxBodyBytes?: number;
  /**
   * Runs one attempt within the registry's limit of requests in flight. Per attempt, not per request:
   * a request waiting out its backoff holds no slot, and the attempt's deadline starts once it has one.
   */
  slot?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/**
 * Far above any manifest (distribution refuses those over 4 MiB) or image config: a server streaming an
 * endless body fast would otherwise fill memory before the attempt's deadline.
 */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * The request was retried as often as allowed ("<METHOD> <path>: <failure> after N attempts"), or its
 * answer cannot be used whatever the tries ("<METHOD> <path>: <why>").
 */
export class GaveUp extends Error {
  override name = "GaveUp";
}

/** An attempt worth another: what went wrong, and what the server asked us to wait. */
class Retryable extends Error {
  constructor(
    readonly failure: string,
    readonly afterMs?: number,
  ) {
    super(failure);
  }
}

/** Any answer but 429 and 5xx; `signal` aborting ends it at once, with the signal's reason. */
export async function fetchRetrying(
  policy: FetchPolicy,
  method: string,
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Reply> {
  const slot = policy.slot ?? ((fn) => fn());
  const once = () =>
    slot(() => attempt(policy, method, url, { "user-agent": USER_AGENT, ...headers }, signal));
  try {
    return await retry(once, {
      attempts: policy.attempts,
      baseDelayMs: policy.retryBaseMs,
      jitter: true,
      signal,
      retryable: (err) => (err instanceof Retryable ? { afterMs: err.afterMs } : false),
    });
  } catch (err) {
    if (!(err instanceof Retryable)) throw err;
    const tries = policy.attempts === 1 ? "1 attempt" : `${policy.attempts} attempts`;
    throw new GaveUp(`${method} ${url.pathname}: ${err.failure} after ${tries}`);
  }
}

async function attempt(
  policy: FetchPolicy,
  method: string,
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Reply> {
  let timedOut = false;
  let answered: number | undefined;
  let call: Call | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    call?.cancel(new DOMException(`no answer within ${policy.timeoutMs} ms`, "TimeoutError"));
  }, policy.timeoutMs);
  let reply: Reply;
  try {
    // Inside the try: a transport that throws as it sends fails the attempt like one that rejects.
    call = policy.transport({ method, url, headers, signal });
    const res = await call.answer;
    answered = res.status;
    // The body is read under the same deadline: a timeout, a trickle or a reset while reading it is
    // retried too.
    const body = await readBody(res, policy.maxBodyBytes ?? MAX_BODY_BYTES, `${method} ${url.pathname}`);
    reply = { status: res.status, headers: res.headers, body };
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    if (err instanceof GaveUp) throw err;
    if (!timedOut) throw new Retryable(describeNetworkError(err));
    throw new Retryable(
      answered === undefined
        ? `timed out: no answer within ${policy.timeoutMs} ms`
        : `timed out: the body did not arrive within ${policy.timeoutMs} ms (HTTP ${answered} headers did)`,
    );
  } finally {
    clearTimeout(timer);
  }
  if (reply.status !== 429 && reply.status < 500) return reply;
  throw new Retryable(
    `HTTP ${reply.status}${describeErrors(reply.body)}`,
    retryAfterMs(reply.headers.get("retry-after"), policy.maxRetryAfterMs),
  );
}

/** The whole body, or GaveUp (not retried: the next answer would be as large) once it passes `max`. */
async function readBody(res: Answer, max: number, what: string): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > max) {
      res.discard();
      throw new GaveUp(`${what}: the answer's body is over ${max / 1024 / 1024} MiB`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** A network failure in words, with the system's code (fetch puts it on `cause`, node:http on the error). */
export function describeNetworkError(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const cause = typeof e?.code === "string" ? e : e?.cause;
  if (cause && typeof cause.code === "string") {
    const names: Record<string, string> = {
      ECONNREFUSED: "connection refused",
      ECONNRESET: "connection reset",
      ENOTFOUND: "host not found",
      EAI_AGAIN: "DNS lookup failed",
      ETIMEDOUT: "connection timed out",
    };
    return `${names[cause.code] ?? "network error"} (${cause.code})`;
  }
  return `network error (${err instanceof Error ? err.message : String(err)})`;
}
