/**
 * One call to the forge's API: bounded by a timer over headers and body, 429 and 5xx and network errors
 * retried on lib/retry (honouring Retry-After within a cap), redirects followed by us within the API's
 * origin only, so the token never goes anywhere else. A create that may have happened is not retried: it
 * is thrown as ambiguous for the caller to look first. The token never appears in an error message.
 */
import { retry } from "../retry/retry";
import { retryAfterMs } from "../retry/retry-after";
import type { ForgeConfig } from "./forge";
import { maskText } from "./secrets";

export class ForgeError extends Error {
  constructor(
    readonly call: string,
    readonly status: number | undefined,
    message: string,
    /**
     * The server may have done it anyway: a 5xx, a timeout or a connection lost after the request was sent.
     * Set only where the request was not retried for that reason (a create); `retryAfterMs` is its hint.
     */
    readonly ambiguous = false,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "ForgeError";
  }
}

// Failures where the request certainly never reached the server: retrying cannot do anything twice.
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"]);

const HINTS: Record<number, string> = {
  401: "the token was rejected (missing, expired or revoked)",
  403: "the token may not do this: the workflow needs `permissions: pull-requests: write` on GitHub (a PR from a fork only gets a read-only token), or a token with issue write access on Gitea",
  404: "no such repository or pull request, or the token cannot see it",
};

/** What one try came to: an answer read in full, or why there is none. */
interface Outcome {
  res?: Response;
  text: string;
  failure?: string;
  /** False when the request certainly never reached the server. */
  sent: boolean;
}

/** A try worth another, carrying its outcome (the answer, should it be the last) and the server's hint. */
class Again extends Error {
  constructor(
    readonly outcome: Outcome,
    readonly afterMs: number | undefined,
  ) {
    super("retry");
  }
}

export interface CallOptions {
  body?: unknown;
  /** False for a create: only what certainly was not done is retried (429, a connection never made). */
  idempotent?: boolean;
}

export async function forgeRequest(
  cfg: ForgeConfig,
  method: string,
  url: URL,
  { body, idempotent = true }: CallOptions = {},
): Promise<{ data: unknown; headers: Headers }> {
  const call = `${method} ${url.pathname}${url.search}`;
  const masks = [cfg.token];
  const capMs = cfg.maxRetryAfterMs ?? 60_000;
  const followed = redirectsFollowed(cfg, method, url, body, call);
  const attempt = async (): Promise<Outcome> => {
    const outcome = await followed();
    const { res, failure, sent } = outcome;
    const hint = retryAfterMs(res?.headers.get("retry-after") ?? null, capMs);
    const retryable =
      failure !== undefined || (res !== undefined && (res.status === 429 || res.status >= 500));
    // A create that may have happened is not repeated blindly: the caller looks first.
    if (retryable && sent && res?.status !== 429 && !idempotent) {
      const what = failure !== undefined ? `request failed: ${failure}` : `HTTP ${res?.status}`;
      const message = maskText(`${call}: ${what} (it may have been done anyway)`, masks);
      throw new ForgeError(call, res?.status, message, true, hint);
    }
    if (retryable) throw new Again(outcome, hint);
    return outcome;
  };
  let last: Outcome;
  try {
    last = await retry(attempt, {
      attempts: cfg.attempts ?? 4,
      baseDelayMs: cfg.retryBaseMs ?? 1000,
      retryable: (err) => (err instanceof Again ? { afterMs: err.afterMs } : false),
    });
  } catch (err) {
    if (!(err instanceof Again)) throw err;
    last = err.outcome;
  }
  if (last.failure !== undefined) {
    throw new ForgeError(call, undefined, maskText(`${call}: request failed: ${last.failure}`, masks));
  }
  if (!last.res) throw new ForgeError(call, undefined, `${call}: no response`);
  return answer(call, last.res, last.text, masks);
}

/**
 * Tries `url`, following redirects within its origin. Redirects are not tries: where they led and how
 * many there were carry over to the next try.
 */
function redirectsFollowed(
  cfg: ForgeConfig,
  method: string,
  url: URL,
  body: unknown,
  call: string,
): () => Promise<Outcome> {
  let target = url;
  let hops = 0;
  return async () => {
    for (;;) {
      const outcome = await fetchOnce(cfg, method, target, body);
      const { res } = outcome;
      if (!res || res.status < 300 || res.status >= 400 || !res.headers.get("location")) return outcome;
      const next = new URL(res.headers.get("location") ?? "", target);
      if (next.origin !== target.origin) {
        const message = `${call}: redirected to ${next.origin}, another origin: not followed, so the token is not sent there`;
        throw new ForgeError(call, res.status, maskText(message, [cfg.token]));
      }
      if (++hops > 5) {
        throw new ForgeError(
          call,
          res.status,
          maskText(`${call}: more than 5 redirects, giving up`, [cfg.token]),
        );
      }
      target = next;
    }
  };
}

async function fetchOnce(cfg: ForgeConfig, method: string, url: URL, body: unknown): Promise<Outcome> {
  const timeoutMs = cfg.timeoutMs ?? 30_000;
  // A timer over headers and body (not AbortSignal.any, whose timeout Node 20 can lose to GC).
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let res: Response | undefined;
  try {
    res = await (cfg.fetch ?? fetch)(url, {
      method,
      headers: {
        // "token" is the scheme both forges accept (Gitea does not take "Bearer" on every version).
        Authorization: `token ${cfg.token}`,
        Accept: "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        // GitHub refuses requests without a User-Agent.
        "User-Agent": "molecule-images-pr-report",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Redirects are ours to judge: the token must never follow one to another origin.
      redirect: "manual",
      signal: controller.signal,
    });
    return { res, text: await res.text(), sent: true };
  } catch (err) {
    if (controller.signal.aborted) {
      const reading = res ? ` (HTTP ${res.status}, reading the body)` : "";
      return { text: "", failure: `timed out after ${timeoutMs} ms${reading}`, sent: true };
    }
    const failure =
      err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return { text: "", failure, sent: !NOT_SENT.has(errorCode(err) ?? "") };
  } finally {
    clearTimeout(timer);
  }
}

function errorCode(err: unknown): string | undefined {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

/** The answer's JSON, or a ForgeError saying what the forge said (its message, never the token). */
function answer(
  call: string,
  res: Response,
  text: string,
  masks: string[],
): { data: unknown; headers: Headers } {
  if (!res.ok) {
    let detail = "";
    try {
      const message = (JSON.parse(text) as { message?: unknown }).message;
      if (typeof message === "string") detail = message;
    } catch {
      detail = text.slice(0, 200);
    }
    const hint = HINTS[res.status];
    const message = `${call} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${
      detail ? ` (${detail.trim()})` : ""
    }${hint ? `: ${hint}` : ""}`;
    throw new ForgeError(call, res.status, maskText(message, masks));
  }
  try {
    return { data: text ? JSON.parse(text) : undefined, headers: res.headers };
  } catch {
    throw new ForgeError(call, res.status, `${call}: the response is not JSON`);
  }
}
