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
import { nextLink } from "../http/link";
import { retry } from "../retry/retry";
import { ForgeError, forgeRequest } from "./forge-request";

export { ForgeError } from "./forge-request";

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

export function parseRepository(repository: string): { owner: string; name: string } {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\/([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(repository);
  if (!m?.[1] || !m[2]) throw new Error(`expected GITHUB_REPOSITORY as "owner/name", got "${repository}"`);
  return { owner: m[1], name: m[2] };
}

export class ForgeClient {
  private readonly base: URL;
  private readonly repoPath: string;
  /** The configuration with the fetch to use settled once. */
  private readonly http: ForgeConfig;
  private identityOnce?: Promise<Identity>;

  constructor(private readonly cfg: ForgeConfig) {
    // A trailing slash keeps the API's own path (/api/v1) when joining.
    this.base = new URL(cfg.apiUrl.endsWith("/") ? cfg.apiUrl : `${cfg.apiUrl}/`);
    const { owner, name } = parseRepository(cfg.repository);
    this.repoPath = `repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
    this.http = { ...cfg, fetch: cfg.fetch ?? fetch };
  }

  private url(path: string): URL {
    return new URL(path, this.base);
  }

  /** One API call: see forge-request.ts. */
  private request(
    method: string,
    url: URL,
    body?: unknown,
    { idempotent = true } = {},
  ): Promise<{ data: unknown; headers: Headers }> {
    return forgeRequest(this.http, method, url, { body, idempotent });
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
    const createOrFind = async (attempt: number): Promise<UpsertResult> => {
      if (attempt > 1) {
        const landed = await this.findComment(pr, marker, author.login);
        if (landed) {
          const updated = await this.updateComment(landed.id, body);
          return { action: "created", id: landed.id, url: updated?.html_url ?? landed.html_url, author };
        }
      }
      const created = await this.createComment(pr, body);
      return { action: "created", id: created?.id, url: created?.html_url, author };
    };
    return retry(createOrFind, {
      attempts: this.cfg.attempts ?? 4,
      baseDelayMs: this.cfg.retryBaseMs ?? 1000,
      // Only a create that may have happened is tried again, after looking for it.
      retryable: (err) =>
        err instanceof ForgeError && err.ambiguous ? { afterMs: err.retryAfterMs } : false,
    });
  }
}
