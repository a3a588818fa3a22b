/**
 * The forge's issue-comment API, the subset GitHub and Gitea share (Gitea mirrors GitHub's paths under
 * /api/v1): list a PR's comments, edit one, create one. The report is kept as a single comment that each
 * run edits, found again by the hidden marker its body starts with.
 *
 * The token is sent only to the configured API origin (a pagination link elsewhere is refused) and never
 * appears in an error message, even if the server echoes it back.
 *
 * Only a comment the posting identity wrote is ever the report's: anyone can post a comment holding the
 * marker, and editing theirs would either fail (403, every run) or put the report in someone else's mouth.
 * Who "we" are (identity()): an explicit author (`--author`, PR_REPORT_AUTHOR) if given; else the login of
 * `GET /user` (Gitea answers it for any token, GitHub for a personal token); else, when that is refused (403 or
 * 404: GitHub's job token may not read /user), the job token's bot, `github-actions[bot]` on GitHub or
 * `gitea-actions` under Gitea Actions. Both are names no user can register on their forge.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { nextLink } from "../http/link";
import { retryAfterMs } from "../retry/retry-after";
import { maskText } from "./secrets";

export interface ForgeConfig {
  /** GITHUB_API_URL: https://api.github.com, or https://<gitea>/api/v1 under Gitea Actions. */
  apiUrl: string;
  /** GITHUB_REPOSITORY: owner/name. */
  repository: string;
  token: string;
  /** Injectable for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
  /** Per request, headers and body; default 30000. */
  timeoutMs?: number;
  /** Tries on 429, 5xx and network errors; default 4. */
  attempts?: number;
  /** First backoff, doubled each try; default 1000. */
  retryBaseMs?: number;
  /** Cap on an honoured Retry-After; default 60000. */
  maxRetryAfterMs?: number;
  /** The login whose comments may be the report's; asked of `GET /user` when not given. */
  author?: string;
  /** The login assumed when `GET /user` is refused; default GITHUB_ACTIONS_LOGIN. */
  fallbackAuthor?: string;
}

/** Who writes a comment posted with GitHub Actions' job token (GITHUB_TOKEN). */
export const GITHUB_ACTIONS_LOGIN = "github-actions[bot]";
/** Who writes a comment posted with Gitea Actions' job token (Gitea's ActionsUserName). */
export const GITEA_ACTIONS_LOGIN = "gitea-actions";

export interface Identity {
  login: string;
  /** "configured": given; "token": from GET /user; "fallback": GET /user was refused, the bot assumed. */
  source: "configured" | "token" | "fallback";
}

export interface Comment {
  id: number;
  body?: string;
  html_url?: string;
  /** The author: `user.login` on both forges. */
  user?: { login?: string } | null;
}

export interface UpsertResult {
  action: "created" | "updated";
  id: number;
  url?: string;
  /** Whose comments were considered the report's. */
  author: Identity;
}

/** Logins are case-insensitive on both forges. */
const sameLogin = (a: string | undefined, b: string) =>
  a !== undefined && a.toLowerCase() === b.toLowerCase();

/**
 * Comments asked for per page. GitHub allows up to 100, Gitea caps at its MAX_RESPONSE_ITEMS (50 by
 * default) and silently returns fewer: asking for 50 keeps "a page shorter than asked is the last" true on
 * both when there is no Link header to follow.
 */
export const PAGE_SIZE = 50;
// A runaway guard (a server whose "next" never ends), far above any real PR: 500 pages of 50 comments.
const MAX_PAGES = 500;

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

function errorCode(err: unknown): string | undefined {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

const HINTS: Record<number, string> = {
  401: "the token was rejected (missing, expired or revoked)",
  403: "the token may not do this: the workflow needs `permissions: pull-requests: write` on GitHub (a PR from a fork only gets a read-only token), or a token with issue write access on Gitea",
  404: "no such repository or pull request, or the token cannot see it",
};

export function parseRepository(repository: string): { owner: string; name: string } {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\/([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(repository);
  if (!m?.[1] || !m[2]) throw new Error(`expected GITHUB_REPOSITORY as "owner/name", got "${repository}"`);
  return { owner: m[1], name: m[2] };
}

export class ForgeClient {
  private readonly base: URL;
  private readonly repoPath: string;
  private readonly fetchImpl: typeof fetch;
  private identityOnce?: Promise<Identity>;

  constructor(private readonly cfg: ForgeConfig) {
    // A trailing slash keeps the API's own path (/api/v1) when joining.
    this.base = new URL(cfg.apiUrl.endsWith("/") ? cfg.apiUrl : `${cfg.apiUrl}/`);
    const { owner, name } = parseRepository(cfg.repository);
    this.repoPath = `repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
    this.fetchImpl = cfg.fetch ?? fetch;
  }

  private url(path: string): URL {
    return new URL(path, this.base);
  }

  /**
   * One API call: bounded by a timer over headers and body, 429 and 5xx and network errors retried (up to
   * `attempts`, honouring Retry-After), redirects followed by us within the API's origin only. With
   * `idempotent: false` (a create) only what certainly was not done is retried (429, a connection never
   * made); a 5xx or a timeout is thrown as ambiguous, for the caller to look before trying again.
   */
  private async request(
    method: string,
    url: URL,
    body?: unknown,
    { idempotent = true } = {},
  ): Promise<{ data: unknown; headers: Headers }> {
    const call = `${method} ${url.pathname}${url.search}`;
    const masks = [this.cfg.token];
    const attempts = Math.max(1, this.cfg.attempts ?? 4);
    const timeoutMs = this.cfg.timeoutMs ?? 30_000;
    const capMs = this.cfg.maxRetryAfterMs ?? 60_000;
    let res: Response | undefined;
    let text = "";
    for (let attempt = 1, hops = 0; ; ) {
      // A timer over headers and body (not AbortSignal.any, whose timeout Node 20 can lose to GC).
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      let failure: string | undefined;
      let sent = true;
      res = undefined;
      try {
        res = await this.fetchImpl(url, {
          method,
          headers: {
            // "token" is the scheme both forges accept (Gitea does not take "Bearer" on every version).
            Authorization: `token ${this.cfg.token}`,
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
        text = await res.text();
      } catch (err) {
        if (controller.signal.aborted) {
          failure = `timed out after ${timeoutMs} ms${res ? ` (HTTP ${res.status}, reading the body)` : ""}`;
        } else {
          failure =
            err instanceof Error
              ? err.cause instanceof Error
                ? err.cause.message
                : err.message
              : String(err);
          sent = !NOT_SENT.has(errorCode(err) ?? "");
        }
        res = undefined;
      } finally {
        clearTimeout(timer);
      }
      if (res && res.status >= 300 && res.status < 400 && res.headers.get("location")) {
        const target = new URL(res.headers.get("location") ?? "", url);
        if (target.origin !== url.origin) {
          throw new ForgeError(
            call,
            res.status,
            maskText(
              `${call}: redirected to ${target.origin}, another origin: not followed, so the token is not sent there`,
              masks,
            ),
          );
        }
        if (++hops > 5) {
          throw new ForgeError(
            call,
            res.status,
            maskText(`${call}: more than 5 redirects, giving up`, masks),
          );
        }
        url = target;
        continue;
      }
      const hint = retryAfterMs(res?.headers.get("retry-after") ?? null, capMs);
      const retryable =
        failure !== undefined || (res !== undefined && (res.status === 429 || res.status >= 500));
      // A create that may have happened is not repeated blindly: the caller looks first.
      const ambiguous = retryable && sent && res?.status !== 429;
      if (ambiguous && !idempotent) {
        const what = failure !== undefined ? `request failed: ${failure}` : `HTTP ${res?.status}`;
        throw new ForgeError(
          call,
          res?.status,
          maskText(`${call}: ${what} (it may have been done anyway)`, masks),
          true,
          hint,
        );
      }
      if (!retryable || attempt >= attempts) {
        if (failure !== undefined) {
          throw new ForgeError(call, undefined, maskText(`${call}: request failed: ${failure}`, masks));
        }
        break;
      }
      const wait = hint ?? (this.cfg.retryBaseMs ?? 1000) * 2 ** (attempt - 1);
      attempt++;
      await sleep(wait);
    }
    if (!res) throw new ForgeError(call, undefined, `${call}: no response`);
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

  /** Who posts: see the top of this file. Asked once per client. */
  identity(): Promise<Identity> {
    this.identityOnce ??= this.askIdentity();
    return this.identityOnce;
  }

  private async askIdentity(): Promise<Identity> {
    const configured = this.cfg.author?.trim();
    if (configured) return { login: configured, source: "configured" };
    try {
      const { data } = await this.request("GET", this.url("user"));
      const login = (data as { login?: unknown } | undefined)?.login;
      if (typeof login === "string" && login) return { login, source: "token" };
    } catch (err) {
      // 401 is a bad token: posting would fail too, so say so now. 403/404: a job token that may not ask.
      if (!(err instanceof ForgeError) || (err.status !== 403 && err.status !== 404)) throw err;
    }
    return { login: this.cfg.fallbackAuthor ?? GITHUB_ACTIONS_LOGIN, source: "fallback" };
  }

  /**
   * The first comment written by `author` whose body starts with the marker, looking page by page and
   * stopping as soon as it is found; a comment with the marker by anyone else is not ours and is skipped.
   * Pages: the Link header's rel="next" when the server sends one (GitHub, Gitea); otherwise `page` until a
   * page shorter than asked. `per_page` (GitHub) and `limit` (Gitea) are both sent.
   */
  async findComment(pr: number, marker: string, author: string): Promise<Comment | undefined> {
    let url = this.url(`${this.repoPath}/issues/${pr}/comments`);
    url.searchParams.set("per_page", String(PAGE_SIZE));
    url.searchParams.set("limit", String(PAGE_SIZE));
    url.searchParams.set("page", "1");
    for (let page = 1; page <= MAX_PAGES; page++) {
      const { data, headers } = await this.request("GET", url);
      if (!Array.isArray(data)) {
        throw new ForgeError(
          `GET ${url.pathname}`,
          undefined,
          `GET ${url.pathname}: expected a list of comments`,
        );
      }
      const found = (data as Comment[]).find(
        (c) =>
          typeof c?.body === "string" &&
          c.body.trimStart().startsWith(marker) &&
          sameLogin(c.user?.login ?? undefined, author),
      );
      if (found) return found;
      const link = headers.get("link");
      const nextUrl = nextLink(link, url);
      if (nextUrl) {
        if (nextUrl.origin !== this.base.origin) {
          throw new ForgeError(
            `GET ${url.pathname}`,
            undefined,
            `GET ${url.pathname}: the next page is on another origin (${nextUrl.origin}); not sending the token there`,
          );
        }
        url = nextUrl;
        continue;
      }
      // A Link header without "next" is the server saying this was the last page.
      if (link || data.length < PAGE_SIZE) return undefined;
      url = new URL(url);
      url.searchParams.set("page", String(page + 1));
    }
    throw new ForgeError(
      "GET comments",
      undefined,
      `listing comments: more than ${MAX_PAGES} pages, giving up`,
    );
  }

  async updateComment(id: number, body: string): Promise<Comment> {
    const { data } = await this.request("PATCH", this.url(`${this.repoPath}/issues/comments/${id}`), {
      body,
    });
    return data as Comment;
  }

  /** Not repeated on a 5xx or a timeout (it may have been created): upsertComment looks, then retries. */
  async createComment(pr: number, body: string): Promise<Comment> {
    const { data } = await this.request(
      "POST",
      this.url(`${this.repoPath}/issues/${pr}/comments`),
      { body },
      { idempotent: false },
    );
    return data as Comment;
  }

  /** Edits the report's earlier comment, or creates it: one comment per PR, whatever the number of runs. */
  async upsertComment(pr: number, body: string, marker: string): Promise<UpsertResult> {
    const author = await this.identity();
    const existing = await this.findComment(pr, marker, author.login);
    if (existing) {
      const updated = await this.updateComment(existing.id, body);
      return { action: "updated", id: existing.id, url: updated?.html_url ?? existing.html_url, author };
    }
    // A create answered with a 5xx or a timeout may have happened: look for it before creating again, so a
    // flaky forge never leaves two reports.
    const attempts = Math.max(1, this.cfg.attempts ?? 4);
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await this.createComment(pr, body);
        return { action: "created", id: created?.id, url: created?.html_url, author };
      } catch (err) {
        if (!(err instanceof ForgeError) || !err.ambiguous || attempt >= attempts) throw err;
        await sleep(err.retryAfterMs ?? (this.cfg.retryBaseMs ?? 1000) * 2 ** (attempt - 1));
        const landed = await this.findComment(pr, marker, author.login);
        if (landed) {
          const updated = await this.updateComment(landed.id, body);
          return { action: "created", id: landed.id, url: updated?.html_url ?? landed.html_url, author };
        }
      }
    }
  }
}
