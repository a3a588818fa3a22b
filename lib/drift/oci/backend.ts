/**
 * The drift check's backend for any registry speaking the OCI distribution API (tested against CNCF
 * distribution 2.8.2, `docker-registry`). What it can know, and how:
 *
 * - A repository exists when `tags/list` answers 200. Never-pushed is 404 with the NAME_UNKNOWN code; any
 *   other 404 (a proxy's, a wrong path's) is not a definite answer and throws.
 * - A listed tag whose manifest answers 404 was deleted since the listing only if a second listing no longer
 *   names it; if it still does, the registry lists tags it cannot serve, which is a CheckError (answered
 *   with facts, it would read as an empty repository or missing tags).
 * - The API has no way to list untagged manifests, nor where every tag points in one request: resolving a
 *   tag is a HEAD. So how much is resolved depends on the listing's size:
 *   - up to RESOLVE_ALL_MAX_TAGS (100) tags, every tag is resolved. `imageCount` is the distinct manifest
 *     digests behind the tags (the cache tag's manifest included, as ECR does), and `newestPush` is taken
 *     over every tagged image but the cache tag's;
 *   - above, only the tags asked for (the stack's), plus `latest` and tags ending in `-latest` (the first
 *     MAX_LATEST_TAGS of them in listing order), are resolved, in a handful of requests whatever the size.
 *     `imageCount` is the number of tags listed (`imageCountUnit: "tags"`: an upper bound of the tagged
 *     images), and `newestPush` is taken over the images behind those tags, the cache tag's left out. When
 *     none of them is listed, one listed tag is still resolved, to confirm the registry serves what it
 *     lists; it is not dated. A tag asked for that the listing does not name is absent, without a request.
 * - The API records no push time. `newestPush` is the newest image config `created` (a build time, set by
 *   the builder: a reproducible build with SOURCE_DATE_EPOCH reports that date instead). For an index
 *   (multi-platform) the first platform manifest's config counts, skipping BuildKit attestation entries,
 *   which have no `created`. The cache tag's manifest is left out (pushed every build, it would mask a
 *   stale image). If any dated image has no usable `created`, the answer is null: unknown, not old.
 *
 * Anything short of a definite answer (refused connection, timeouts or 5xx after the retries, auth that
 * cannot be satisfied, malformed answers) is a CheckError naming the registry, the repository and the step.
 *
 * Every wait is bounded: each attempt of a request has a deadline covering its headers and its whole body
 * (a timer that aborts it, not AbortSignal.any() with AbortSignal.timeout(), whose timeout Node 20 can
 * garbage-collect, leaving the request to hang for ever), waits between attempts are capped, and the
 * caller's signal (the drift check's deadline) aborts everything else: pagination, token fetches, backoff.
 */

import { setMaxListeners } from "node:events";
import { CACHE_TAG, CheckError, type RegistryBackend, type RepositoryFacts } from "../types";
import { errorCodes, parseJson, sha256Digest, verifyDigest } from "./body";
import { type Ctx, failure, follow, type Io, NEVER, statusFailure, unexpectedFailure } from "./context";
import { type Credentials, type DockerAuth, defaultDockerConfigPath, readDockerAuth } from "./docker-config";
import { type FetchPolicy, fetchRetrying, GaveUp, type Reply } from "./fetch";
import {
  configDigest,
  createdDate,
  DIGEST_RE,
  firstImage,
  MANIFEST_ACCEPT,
  type ManifestKind,
  manifestKind,
  schema1Created,
} from "./media-types";

// The distribution spec's grammar. Checked up front because URL parsing would silently resolve a `..`
// segment in a repository name to some other path.
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** Index nesting we follow before calling an image's date unknown (real indexes are one level deep). */
const MAX_INDEX_DEPTH = 3;
/** Pages of tags or catalog we follow; a registry sending more is looping. */
const MAX_PAGES = 10_000;
/**
 * Up to this many listed tags, describe() resolves every one (a HEAD each): an exact image count and the
 * newest push over every tagged image. Above, it resolves the tags asked for and the latest ones only.
 */
export const RESOLVE_ALL_MAX_TAGS = 100;
/** Above RESOLVE_ALL_MAX_TAGS, at most this many `latest` / `*-latest` tags are resolved for the age. */
export const MAX_LATEST_TAGS = 8;

/** The backend's defaults. One request's worst case is attempts x timeoutMs + (attempts - 1) x the longest wait. */
export const OCI_DEFAULTS = {
  /** Per attempt, headers and the whole body: a registry trickling its body is cut off too. */
  timeoutMs: 15_000,
  attempts: 4,
  concurrency: 4,
  retryBaseMs: 500,
  maxRetryAfterMs: 30_000,
} as const;

export interface OciBackendOptions {
  /** Default $DOCKER_CONFIG/config.json, else ~/.docker/config.json. A missing file means anonymous. */
  dockerConfigPath?: string;
  /** Per attempt of a request, headers and the whole body; default 15000. */
  timeoutMs?: number;
  /** Tries per request on 429, 5xx, network errors and timeouts; default 4. */
  attempts?: number;
  fetch?: typeof fetch;
  /** Manifest and config requests in flight per describe(); default 4. */
  concurrency?: number;
  /** First backoff between tries, doubled each time (with jitter); default 500. */
  retryBaseMs?: number;
  /** Cap on an honoured Retry-After; default 30000. */
  maxRetryAfterMs?: number;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

interface Manifest {
  kind: ManifestKind;
  json: Record<string, unknown>;
}

export class OciBackend implements RegistryBackend {
  readonly host: string;
  /** http://host for loopback registries, https://host otherwise. */
  readonly baseUrl: string;
  private readonly dockerConfigPath: string;
  private readonly policy: FetchPolicy;
  private readonly concurrency: number;

  private auth: Promise<DockerAuth> | undefined;
  /** Learnt from the first 401: how this registry wants to be authenticated. */
  private bearer: { realm: string; service?: string } | undefined;
  private basic = false;
  /** Bearer tokens by request scope; a promise, so concurrent requests share one token fetch. */
  private readonly tokens = new Map<string, Promise<string>>();
  /**
   * Image dates found so far, by repository@digest: manifests and blobs are immutable, so this never goes
   * stale. Settled values only: an in-flight lookup belongs to one describe() and dies with its abort.
   */
  private readonly created = new Map<string, Date | null>();

  constructor(host: string, opts: OciBackendOptions = {}) {
    this.host = host;
    this.baseUrl = `${isLoopback(host) ? "http" : "https"}://${host}`;
    this.dockerConfigPath = opts.dockerConfigPath ?? defaultDockerConfigPath();
    this.policy = {
      fetch: opts.fetch ?? fetch,
      timeoutMs: opts.timeoutMs ?? OCI_DEFAULTS.timeoutMs,
      attempts: Math.max(1, opts.attempts ?? OCI_DEFAULTS.attempts),
      retryBaseMs: opts.retryBaseMs ?? OCI_DEFAULTS.retryBaseMs,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? OCI_DEFAULTS.maxRetryAfterMs,
    };
    this.concurrency = Math.max(1, opts.concurrency ?? OCI_DEFAULTS.concurrency);
  }

  async describe(repository: string, tags: string[], outer?: AbortSignal): Promise<RepositoryFacts> {
    this.checkRepository(repository);
    // Aborted on the first failure, so the other requests of this repository stop instead of retrying on,
    // and by the caller's signal.
    const abort = new AbortController();
    // Each request in flight (and each backoff) listens to it.
    setMaxListeners(0, abort.signal);
    const unfollow = follow(outer, abort);
    const io: Io = { signal: abort.signal, shared: outer ?? NEVER };
    const signal = io.signal;
    try {
      const listed = await this.listTags(repository, io);
      if (listed === null) return { exists: false, imageCount: 0, newestPush: null, tags: {} };

      const names = [...new Set(listed)];
      const resolveAll = names.length <= RESOLVE_ALL_MAX_TAGS;
      const { resolve, dated } = resolveAll ? everyTag(names) : someTags(names, tags);

      const run = limiter(this.concurrency, signal);
      const digestOf = new Map<string, string>();
      /** Manifests already fetched in full (HEAD fallback), by digest. */
      const fetched = new Map<string, Buffer>();
      const dates = new Map<string, Promise<Date | null>>();
      const dateOf = new Map<string, Date | null>();
      /** Listed tags whose manifest answered 404. */
      const unserved: string[] = [];

      await Promise.all(
        resolve.map(async (tag) => {
          const digest = await run(() => this.tagDigest(repository, tag, fetched, io));
          if (digest === undefined) {
            unserved.push(tag);
            return;
          }
          digestOf.set(tag, digest);
          if (!dated.has(tag)) return;
          let date = dates.get(digest);
          if (!date) {
            date = this.imageCreated(repository, digest, run, fetched, io);
            dates.set(digest, date);
          }
          dateOf.set(digest, await date);
        }),
      );

      if (unserved.length > 0) {
        const stillThere = await this.confirmGone(repository, unserved, io);
        if (!stillThere) return { exists: false, imageCount: 0, newestPush: null, tags: {} };
      }

      let newestPush: Date | null = null;
      for (const [tag, digest] of digestOf) {
        if (!dated.has(tag)) continue;
        const date = dateOf.get(digest) ?? null;
        if (date === null) {
          newestPush = null;
          break;
        }
        if (newestPush === null || date > newestPush) newestPush = date;
      }

      const found: Record<string, string> = {};
      for (const tag of tags) {
        const digest = digestOf.get(tag);
        if (digest !== undefined) found[tag] = digest;
      }
      if (resolveAll) {
        return { exists: true, imageCount: new Set(digestOf.values()).size, newestPush, tags: found };
      }
      // The deleted-since-listing tags (confirmed by confirmGone) are not counted.
      const imageCount = names.length - unserved.length;
      return { exists: true, imageCount, imageCountUnit: "tags", newestPush, tags: found };
    } catch (err) {
      abort.abort();
      throw this.asCheckError(err, repository, "describe");
    } finally {
      unfollow();
    }
  }

  async list(prefix: string, outer?: AbortSignal): Promise<string[]> {
    try {
      return await this.catalog(prefix, { signal: outer ?? NEVER, shared: outer ?? NEVER });
    } catch (err) {
      throw this.asCheckError(err, undefined, "list repositories");
    }
  }

  private async catalog(prefix: string, io: Io): Promise<string[]> {
    const ctx: Ctx = { what: "list repositories (GET /v2/_catalog)", ...io };
    const names = new Set<string>();
    for await (const reply of this.pages("/v2/_catalog", "registry:catalog:*", ctx)) {
      if (reply.status !== 200) throw this.statusError(reply, ctx);
      const json = parseJson(reply.body, () => this.fail(ctx, "the answer is not JSON"));
      const repos = json.repositories;
      if (repos === null || repos === undefined) continue;
      if (!Array.isArray(repos) || !repos.every((r) => typeof r === "string")) {
        throw this.fail(ctx, "`repositories` is not a list of names");
      }
      for (const r of repos) if (r.startsWith(prefix)) names.add(r);
    }
    return [...names].sort();
  }

  // ------------------------------------------------------------------------------------------
  // describe() steps
  // ------------------------------------------------------------------------------------------

  /** All tags, following Link pagination; null when the registry does not know the repository. */
  private async listTags(repository: string, io: Io): Promise<string[] | null> {
    const ctx: Ctx = { repository, what: "list tags", ...io };
    const tags: string[] = [];
    for await (const reply of this.pages(`/v2/${repository}/tags/list`, pullScope(repository), ctx)) {
      if (reply.status === 404) {
        if (errorCodes(reply.body).includes("NAME_UNKNOWN")) return null;
        throw this.statusError(reply, ctx);
      }
      if (reply.status !== 200) throw this.statusError(reply, ctx);
      const json = parseJson(reply.body, () => this.fail(ctx, "the answer is not JSON"));
      // 2.8.2 answers `"tags": null` once the last tagged manifest is deleted: the repository still exists.
      if (json.tags === null || json.tags === undefined) continue;
      if (!Array.isArray(json.tags) || !json.tags.every((t) => typeof t === "string")) {
        throw this.fail(ctx, "`tags` is not a list of names");
      }
      tags.push(...json.tags);
    }
    return tags;
  }

  /**
   * Listed tags whose manifest answered 404 are either deleted since the listing (a concurrent untag: they
   * are gone), or a registry that lists what it cannot serve, which would make a served repository look
   * empty or its tags missing. A second listing tells the two apart: a tag it still names is an
   * inconsistency, so a CheckError. False when the repository itself is gone by then.
   */
  private async confirmGone(repository: string, unserved: string[], io: Io): Promise<boolean> {
    const relisted = await this.listTags(repository, io);
    if (relisted === null) return false;
    const still = new Set(relisted);
    const inconsistent = unserved.filter((tag) => still.has(tag)).sort();
    if (inconsistent.length > 0) {
      const n = inconsistent.length;
      const named = inconsistent.slice(0, 5).join(", ") + (n > 5 ? `, and ${n - 5} more` : "");
      throw this.fail(
        { repository, what: "resolve tags" },
        `the registry lists tags it cannot serve: ${n} listed tag${n > 1 ? "s answer" : " answers"} 404 (${named}), still listed on a second tags/list`,
      );
    }
    return true;
  }

  /** The digest a tag points to, or undefined if the tag is gone. */
  private async tagDigest(
    repository: string,
    tag: string,
    fetched: Map<string, Buffer>,
    io: Io,
  ): Promise<string | undefined> {
    const ctx: Ctx = { repository, what: `HEAD manifest ${tag}`, ...io };
    const url = this.url(`/v2/${repository}/manifests/${encodeURIComponent(tag)}`);
    const head = await this.request("HEAD", url, pullScope(repository), ctx, MANIFEST_ACCEPT);
    if (head.status === 404) return undefined;
    if (head.status !== 200) throw this.statusError(head, ctx);
    const digest = head.headers.get("docker-content-digest");
    if (digest) {
      if (!DIGEST_RE.test(digest))
        throw this.fail(ctx, `malformed Docker-Content-Digest ${JSON.stringify(digest)}`);
      return digest;
    }
    // Not every registry (or proxy in front of one) sends the header: the digest is the body's sha256.
    const getCtx: Ctx = { ...ctx, what: `GET manifest ${tag}` };
    const get = await this.request("GET", url, pullScope(repository), getCtx, MANIFEST_ACCEPT);
    if (get.status === 404) return undefined;
    if (get.status !== 200) throw this.statusError(get, getCtx);
    const computed = sha256Digest(get.body);
    fetched.set(computed, get.body);
    return computed;
  }

  /** The `created` of the image behind a manifest digest (following an index to its first image). */
  private async imageCreated(
    repository: string,
    digest: string,
    run: Run,
    fetched: Map<string, Buffer>,
    io: Io,
    depth = 0,
  ): Promise<Date | null> {
    const key = `${repository}@${digest}`;
    if (this.created.has(key)) return this.created.get(key) ?? null;
    const result = await (async (): Promise<Date | null> => {
      const manifest = await run(() => this.manifest(repository, digest, fetched, io));
      const { kind, json } = manifest;
      if (kind === "index") {
        if (depth >= MAX_INDEX_DEPTH) return null;
        const child = firstImage(json.manifests);
        if (!child) return null;
        return await this.imageCreated(repository, child, run, fetched, io, depth + 1);
      }
      if (kind === "image") {
        const config = configDigest(json);
        if (config === undefined) {
          throw this.fail(
            { repository, what: `read manifest ${digest}` },
            "the manifest has no config digest",
          );
        }
        const blob = await run(() => this.configBlob(repository, digest, config, io));
        return createdDate(blob.created);
      }
      if (kind === "schema1") return schema1Created(json);
      return null;
    })();
    this.created.set(key, result);
    return result;
  }

  private async manifest(
    repository: string,
    digest: string,
    fetched: Map<string, Buffer>,
    io: Io,
  ): Promise<Manifest> {
    const ctx: Ctx = { repository, what: `GET manifest ${digest}`, ...io };
    let body = fetched.get(digest);
    let contentType: string | null = null;
    if (!body) {
      const url = this.url(`/v2/${repository}/manifests/${digest}`);
      const reply = await this.request("GET", url, pullScope(repository), ctx, MANIFEST_ACCEPT);
      if (reply.status === 404) {
        throw this.fail(ctx, "the manifest disappeared during the check (a concurrent push or delete?)");
      }
      if (reply.status !== 200) throw this.statusError(reply, ctx);
      verifyDigest(reply.body, digest, () => this.fail(ctx, "the body does not match its digest"));
      body = reply.body;
      contentType = reply.headers.get("content-type");
    }
    const json = parseJson(body, () => this.fail(ctx, "the manifest is not JSON"));
    return { kind: manifestKind(json, contentType), json };
  }

  private async configBlob(
    repository: string,
    manifestDigest: string,
    configDigest: string,
    io: Io,
  ): Promise<Record<string, unknown>> {
    const ctx: Ctx = {
      repository,
      what: `GET config ${configDigest} of manifest ${manifestDigest}`,
      ...io,
    };
    // Registries backed by object storage redirect blob GETs; fetch follows, and drops Authorization
    // when the redirect leaves the registry's origin.
    const reply = await this.request(
      "GET",
      this.url(`/v2/${repository}/blobs/${configDigest}`),
      pullScope(repository),
      ctx,
    );
    if (reply.status === 404) throw this.fail(ctx, "the image config blob is missing");
    if (reply.status !== 200) throw this.statusError(reply, ctx);
    verifyDigest(reply.body, configDigest, () => this.fail(ctx, "the body does not match its digest"));
    return parseJson(reply.body, () => this.fail(ctx, "the image config is not JSON"));
  }

  // ------------------------------------------------------------------------------------------
  // HTTP: pagination, auth, retries
  // ------------------------------------------------------------------------------------------

  /** GETs `first`, then each `Link: <...>; rel="next"`, yielding every answer (the caller checks status). */
  private async *pages(first: string, scope: string, ctx: Ctx): AsyncGenerator<Reply> {
    let next: URL | undefined = this.url(first);
    const seen = new Set<string>();
    while (next) {
      if (seen.has(next.href) || seen.size >= MAX_PAGES) throw this.fail(ctx, "the Link pagination loops");
      seen.add(next.href);
      const reply = await this.request("GET", next, scope, ctx, "application/json");
      yield reply;
      next = nextLink(reply.headers.get("link"), next);
      // Credentials go with every request: never follow a page link to another origin.
      if (next && next.origin !== new URL(this.baseUrl).origin) {
        throw this.fail(ctx, `a Link header points to another origin (${next.origin})`);
      }
    }
  }

  /** One request with auth handled: answers with any status except an unresolved 401, which throws. */
  private async request(
    method: "GET" | "HEAD",
    url: URL,
    scope: string,
    ctx: Ctx,
    accept?: string,
  ): Promise<Reply> {
    // Up to two challenges per request: the first teaches the scheme, the second renews an expired token.
    for (let round = 0; ; round++) {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept;
      const authorization = await this.authorization(scope, ctx);
      if (authorization) headers.authorization = authorization;
      const reply = await this.retrying(method, url, headers, ctx);
      if (reply.status !== 401) return reply;
      if (round >= 2) throw await this.authError(ctx, "the registry keeps answering 401");
      await this.onChallenge(reply, scope, authorization, ctx);
    }
  }

  private async authorization(scope: string, ctx: Ctx): Promise<string | undefined> {
    if (this.bearer) return `Bearer ${await this.token(scope, scope, ctx)}`;
    if (this.basic) {
      const { credentials } = await this.dockerAuth();
      if (credentials) return basicHeader(credentials);
    }
    return undefined;
  }

  private async onChallenge(reply: Reply, scope: string, sent: string | undefined, ctx: Ctx): Promise<void> {
    const challenges = parseChallenges(reply.headers.get("www-authenticate") ?? "");
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    if (bearer?.params.realm) {
      this.bearer = { realm: bearer.params.realm, service: bearer.params.service };
      // Concurrent requests meet the same challenge: only the first of them fetches a new token.
      const current = this.tokens.get(scope);
      if (current) {
        const value = await current.catch(() => undefined);
        if (value !== undefined && `Bearer ${value}` !== sent) return;
      }
      this.tokens.delete(scope);
      // The challenge names the scope the registry wants; the token is still filed under ours.
      await this.token(scope, bearer.params.scope || scope, ctx);
      return;
    }
    if (basic) {
      const auth = await this.dockerAuth();
      if (!auth.credentials) throw await this.authError(ctx, "the registry requires authentication");
      if (sent?.startsWith("Basic "))
        throw await this.authError(ctx, "the registry rejected the credentials");
      this.basic = true;
      return;
    }
    throw await this.authError(ctx, "401 without a usable WWW-Authenticate challenge");
  }

  /** The cached token for `key`, or a new one for `scope` (a failed fetch is not kept). */
  private token(key: string, scope: string, ctx: Ctx): Promise<string> {
    let token = this.tokens.get(key);
    if (!token) {
      const fresh = this.fetchToken(scope, ctx);
      token = fresh;
      this.tokens.set(key, fresh);
      fresh.catch(() => {
        if (this.tokens.get(key) === fresh) this.tokens.delete(key);
      });
    }
    return token;
  }

  private async fetchToken(scope: string, ctx: Ctx): Promise<string> {
    const bearer = this.bearer;
    // Shared by every request of the scope, so not cancelled by the one that happened to start it: only
    // by the caller's signal (the check's deadline).
    const tokenCtx: Ctx = {
      ...ctx,
      what: `${ctx.what}: get a token for ${scope}`,
      signal: ctx.shared,
    };
    if (!bearer) throw this.fail(tokenCtx, "no token realm");
    let realm: URL;
    try {
      realm = new URL(bearer.realm);
    } catch {
      throw this.fail(tokenCtx, `the token realm ${JSON.stringify(bearer.realm)} is not a URL`);
    }
    if (realm.protocol !== "https:" && realm.protocol !== "http:") {
      throw this.fail(tokenCtx, `the token realm ${realm.origin} is not HTTP(S)`);
    }
    if (bearer.service) realm.searchParams.set("service", bearer.service);
    if (scope) realm.searchParams.set("scope", scope);
    const headers: Record<string, string> = {};
    const { credentials } = await this.dockerAuth();
    if (credentials) {
      // A password in clear text over the network is a leak, whatever the registry asks for.
      if (realm.protocol !== "https:" && !isLoopback(realm.host)) {
        throw this.fail(
          tokenCtx,
          `refusing to send credentials to a non-HTTPS token realm (${realm.origin})`,
        );
      }
      headers.authorization = basicHeader(credentials);
    }
    const reply = await this.retrying("GET", realm, headers, tokenCtx);
    if (reply.status === 401 || reply.status === 403) {
      throw await this.authError(
        tokenCtx,
        `the token endpoint refused ${credentials ? "the credentials" : "anonymous access"} (HTTP ${reply.status})`,
      );
    }
    if (reply.status !== 200) throw this.statusError(reply, tokenCtx);
    const json = parseJson(reply.body, () => this.fail(tokenCtx, "the token answer is not JSON"));
    const token = typeof json.token === "string" ? json.token : json.access_token;
    if (typeof token !== "string" || token === "") throw this.fail(tokenCtx, "the token answer has no token");
    return token;
  }

  /** A request retried as the options say; a request that gave up is a CheckError saying why. */
  private async retrying(
    method: string,
    url: URL,
    headers: Record<string, string>,
    ctx: Ctx,
  ): Promise<Reply> {
    try {
      return await fetchRetrying(this.policy, method, url, headers, ctx.signal);
    } catch (err) {
      throw err instanceof GaveUp ? this.fail(ctx, err.message) : err;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Helpers
  // ------------------------------------------------------------------------------------------

  private url(pathAndQuery: string): URL {
    return new URL(pathAndQuery, this.baseUrl);
  }

  private asCheckError(err: unknown, repository: string | undefined, what: string): CheckError {
    return unexpectedFailure(this.host, err, repository, what);
  }

  private checkRepository(repository: string): void {
    if (!REPOSITORY_RE.test(repository)) {
      throw new CheckError(
        `OCI registry ${this.host}: ${JSON.stringify(repository)} is not a repository name`,
      );
    }
  }

  private fail(ctx: Pick<Ctx, "repository" | "what">, reason: string): CheckError {
    return failure(this.host, ctx, reason);
  }

  private statusError(reply: Reply, ctx: Ctx): CheckError {
    return statusFailure(this.host, reply, ctx);
  }

  /** An auth failure, saying where credentials would come from (never what they are). */
  private async authError(ctx: Ctx, reason: string): Promise<CheckError> {
    const auth = await this.dockerAuth().catch(() => undefined);
    let hint = "";
    if (auth?.credentials) hint = ` (credentials for ${this.host} from ${auth.source})`;
    else if (auth?.helper) {
      hint = ` (${auth.source} names the credential helper "${auth.helper}" for ${this.host}, which this check does not run; put an "auth" entry in a config file and point DOCKER_CONFIG at its directory)`;
    } else hint = ` (no credentials for ${this.host} in ${auth?.source ?? this.dockerConfigPath})`;
    return this.fail(ctx, reason + hint);
  }

  private dockerAuth(): Promise<DockerAuth> {
    this.auth ??= readDockerAuth(this.dockerConfigPath, this.host);
    return this.auth;
  }
}

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests)
// ---------------------------------------------------------------------------------------------

/** 127.0.0.0/8, localhost and [::1]: plain HTTP, as Docker itself treats them. */
export function isLoopback(host: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (
    hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

/** The parameters of each challenge in a WWW-Authenticate header (scopes may contain commas, quoted). */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /([A-Za-z][\w-]*)(?:\s+|$)((?:[\w-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,\s*)?)*)/g;
  for (const m of header.matchAll(re)) {
    const scheme = (m[1] ?? "").toLowerCase();
    const params: Record<string, string> = {};
    for (const p of (m[2] ?? "").matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
      const key = (p[1] ?? "").toLowerCase();
      params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : (p[3] ?? "");
    }
    out.push({ scheme, params });
  }
  return out;
}

/** The rel="next" target of a Link header, resolved against the page's URL. */
export function nextLink(header: string | null, base: URL): URL | undefined {
  if (!header) return undefined;
  for (const part of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rels = /rel\s*=\s*"?([^";]*)"?/i.exec(part[2] ?? "")?.[1]?.split(/\s+/) ?? [];
    if (rels.includes("next")) return new URL(part[1] ?? "", base);
  }
  return undefined;
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** Which tags a describe() resolves, and which of those date the repository. */
interface TagPlan {
  resolve: string[];
  dated: Set<string>;
}

/** A small repository: every tag resolved, every image but the cache tag's dated. */
function everyTag(names: string[]): TagPlan {
  return { resolve: names, dated: new Set(names.filter((t) => t !== CACHE_TAG)) };
}

/** `latest`, `staging-latest` and the like: the moving tags that name a repository's newest build. */
export function isLatestTag(tag: string): boolean {
  return tag === "latest" || tag.endsWith("-latest");
}

/**
 * A large repository: the tags asked for and the first MAX_LATEST_TAGS latest tags, all listed ones,
 * dated but the cache tag. With none of them listed, one listed tag is resolved (not dated), so a count
 * is never taken on the listing's word alone.
 */
function someTags(names: string[], wanted: string[]): TagPlan {
  const listed = new Set(names);
  const inspect = new Set(wanted.filter((t) => listed.has(t)));
  let latest = 0;
  for (const tag of names) {
    if (latest >= MAX_LATEST_TAGS) break;
    if (isLatestTag(tag) && tag !== CACHE_TAG) {
      inspect.add(tag);
      latest++;
    }
  }
  const dated = new Set([...inspect].filter((t) => t !== CACHE_TAG));
  if (inspect.size === 0) {
    const probe = names.find((t) => t !== CACHE_TAG) ?? names[0];
    if (probe !== undefined) inspect.add(probe);
  }
  return { resolve: [...inspect], dated };
}

type Run = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * At most `n` of the functions handed to it run at once; queued ones are dropped once `signal` aborts.
 * A finishing function hands its slot straight to the next in line, so a newcomer cannot slip in between.
 */
function limiter(n: number, signal: AbortSignal): Run {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active < n) active++;
    else await new Promise<void>((resolve) => queue.push(resolve));
    try {
      signal.throwIfAborted();
      return await fn();
    } finally {
      const next = queue.shift();
      if (next) next();
      else active--;
    }
  };
}
