/**
 * One retry loop for every client here: the drift check's registry requests, the PR report's forge calls
 * (and its look-then-create of a comment), and the stager's git fetches. Each says what is worth another
 * try; the loop owns the count, the doubling delay and the abort, so a cancelled run never sleeps through
 * its own deadline.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface RetryOptions {
  /** Tries in all, at least 1. */
  attempts: number;
  /** The first retry's delay, doubled for each later one. */
  baseDelayMs: number;
  /** Spread each delay over ±25 %, so many clients that failed together do not retry together. */
  jitter?: boolean;
  /** Aborting stops the loop at once, sleeping or not, with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Whether a failure of try `attempt` is worth another: false gives up (the error is thrown as it is); true
   * retries after the backoff; `{ afterMs }` retries after what the server asked for (Retry-After).
   */
  retryable: (err: unknown, attempt: number) => boolean | { afterMs: number | undefined };
  /** Told before each wait, e.g. to show progress. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** The backoff before try `attempt + 1`, without jitter. */
export function backoffMs(attempt: number, baseDelayMs: number): number {
  return baseDelayMs * 2 ** (attempt - 1);
}

/** The most a run of `attempts` tries can spend waiting between them (no jitter, no Retry-After). */
export function totalBackoffMs(attempts: number, baseDelayMs: number): number {
  let total = 0;
  for (let attempt = 1; attempt < attempts; attempt++) total += backoffMs(attempt, baseDelayMs);
  return total;
}

/** Runs `attempt(1)`, `attempt(2)`, … until one resolves, a failure is not retryable, or the tries run out. */
export async function retry<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(opts.attempts));
  for (let n = 1; ; n++) {
    opts.signal?.throwIfAborted();
    try {
      return await attempt(n);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      const verdict = n < attempts ? opts.retryable(err, n) : false;
      if (verdict === false) throw err;
      const asked = verdict === true ? undefined : verdict.afterMs;
      const delay = asked ?? backoffMs(n, opts.baseDelayMs) * (opts.jitter ? 0.75 + Math.random() * 0.5 : 1);
      opts.onRetry?.(err, n, delay);
      await sleep(delay, undefined, { signal: opts.signal }).catch((sleepErr: unknown) => {
        throw opts.signal?.reason ?? sleepErr;
      });
    }
  }
}
