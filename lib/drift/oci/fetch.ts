/**
 * One registry request with a deadline per attempt covering the headers and the whole body, retried on
 * lib/retry when the answer is 429 or 5xx, or the attempt met a network error or its deadline: after what
 * Retry-After asks (within a cap), else a jittered doubling backoff. Reads the body.
 *
 * The deadline is a timer calling abort() on a controller of this attempt, cleared when the attempt ends:
 * the event loop holds a pending timer strongly. Not AbortSignal.any([signal, AbortSignal.timeout()]):
 * Node 20 can garbage-collect that timeout signal, and a registry that never answers then hangs the
 * check for good.
 */
import { retry } from "../../retry/retry";
import { retryAfterMs } from "../../retry/retry-after";
import { describeErrors } from "./body";
import { follow } from "./context";

const USER_AGENT = "molecule-images-drift";

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface FetchPolicy {
  fetch: typeof fetch;
  /** Per attempt, headers and the whole body. */
  timeoutMs: number;
  attempts: number;
  /** The first backoff, doubled for each later one. */
  retryBaseMs: number;
  /** Cap on an honoured Retry-After. */
  maxRetryAfterMs: number;
  /**
   * Runs one attempt within the registry's limit of requests in flight. Per attempt, not per request:
   * a request waiting out its backoff holds no slot, and the attempt's deadline starts once it has one.
   */
  slot?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** The request was retried as often as allowed; the message is "<METHOD> <path>: <failure> after N attempts". */
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
  const attemptAbort = new AbortController();
  let timedOut = false;
  let answered: number | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    attemptAbort.abort(new DOMException(`no answer within ${policy.timeoutMs} ms`, "TimeoutError"));
  }, policy.timeoutMs);
  const unfollow = follow(signal, attemptAbort);
  let reply: Reply;
  try {
    const res = await policy.fetch(url, { method, headers, signal: attemptAbort.signal });
    answered = res.status;
    // The body is read under the same deadline: a timeout, a trickle or a reset while reading it is
    // retried too.
    const body = method === "HEAD" ? Buffer.alloc(0) : Buffer.from(await res.arrayBuffer());
    reply = { status: res.status, headers: res.headers, body };
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    if (!timedOut) throw new Retryable(describeNetworkError(err));
    throw new Retryable(
      answered === undefined
        ? `timed out: no answer within ${policy.timeoutMs} ms`
        : `timed out: the body did not arrive within ${policy.timeoutMs} ms (HTTP ${answered} headers did)`,
    );
  } finally {
    clearTimeout(timer);
    unfollow();
  }
  if (reply.status !== 429 && reply.status < 500) return reply;
  throw new Retryable(
    `HTTP ${reply.status}${describeErrors(reply.body)}`,
    retryAfterMs(reply.headers.get("retry-after"), policy.maxRetryAfterMs),
  );
}

/** A fetch failure in words, with the system's code. */
export function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === "string") {
    const names: Record<string, string> = {
      ECONNREFUSED: "connection refused",
      ECONNRESET: "connection reset",
      ENOTFOUND: "host not found",
      EAI_AGAIN: "DNS lookup failed",
      ETIMEDOUT: "connection timed out",
      UND_ERR_SOCKET: "connection closed",
    };
    return `${names[cause.code] ?? "network error"} (${cause.code})`;
  }
  return `network error (${err instanceof Error ? err.message : String(err)})`;
}
