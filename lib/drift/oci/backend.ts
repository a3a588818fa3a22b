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
import { pullScope, RegistryClient } from "./client";
import { type Ctx, follow, type Io, NEVER, unexpectedFailure } from "./context";
import { defaultDockerConfigPath } from "./docker-config";
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
import { pages } from "./pages";

// The distribution spec's grammar. Checked up front because URL parsing would silently resolve a `..`
// segment in a repository name to some other path.
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** Index nesting we follow before calling an image's date unknown (real indexes are one level deep). */
const MAX_INDEX_DEPTH = 3;
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

interface Manifest {
  kind: ManifestKind;
  json: Record<string, unknown>;
}

export class OciBackend implements RegistryBackend {
  readonly host: string;
  /** http://host for loopback registries, https://host otherwise. */
  readonly baseUrl: string;
  private readonly client: RegistryClient;
  private readonly concurrency: number;
  /**
   * Image dates found so far, by repository@digest: manifests and blobs are immutable, so this never goes
   * stale. Settled values only: an in-flight lookup belongs to one describe() and dies with its abort.
   */
  private readonly created = new Map<string, Date | null>();

  constructor(host: string, opts: OciBackendOptions = {}) {
    this.host = host;
    this.client = new RegistryClient(host, opts.dockerConfigPath ?? defaultDockerConfigPath(), {
      fetch: opts.fetch ?? fetch,
      timeoutMs: opts.timeoutMs ?? OCI_DEFAULTS.timeoutMs,
      attempts: Math.max(1, opts.attempts ?? OCI_DEFAULTS.attempts),
      retryBaseMs: opts.retryBaseMs ?? OCI_DEFAULTS.retryBaseMs,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? OCI_DEFAULTS.maxRetryAfterMs,
    });
    this.baseUrl = this.client.baseUrl;
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
    for await (const reply of pages(this.client, "/v2/_catalog", "registry:catalog:*", ctx)) {
      if (reply.status !== 200) throw this.client.statusError(reply, ctx);
      const json = parseJson(reply.body, () => this.client.fail(ctx, "the answer is not JSON"));
      const repos = json.repositories;
      if (repos === null || repos === undefined) continue;
      if (!Array.isArray(repos) || !repos.every((r) => typeof r === "string")) {
        throw this.client.fail(ctx, "`repositories` is not a list of names");
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
    for await (const reply of pages(this.client, `/v2/${repository}/tags/list`, pullScope(repository), ctx)) {
      if (reply.status === 404) {
        if (errorCodes(reply.body).includes("NAME_UNKNOWN")) return null;
        throw this.client.statusError(reply, ctx);
      }
      if (reply.status !== 200) throw this.client.statusError(reply, ctx);
      const json = parseJson(reply.body, () => this.client.fail(ctx, "the answer is not JSON"));
      // 2.8.2 answers `"tags": null` once the last tagged manifest is deleted: the repository still exists.
      if (json.tags === null || json.tags === undefined) continue;
      if (!Array.isArray(json.tags) || !json.tags.every((t) => typeof t === "string")) {
        throw this.client.fail(ctx, "`tags` is not a list of names");
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
      throw this.client.fail(
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
    const url = this.client.url(`/v2/${repository}/manifests/${encodeURIComponent(tag)}`);
    const head = await this.client.request("HEAD", url, pullScope(repository), ctx, MANIFEST_ACCEPT);
    if (head.status === 404) return undefined;
    if (head.status !== 200) throw this.client.statusError(head, ctx);
    const digest = head.headers.get("docker-content-digest");
    if (digest) {
      if (!DIGEST_RE.test(digest))
        throw this.client.fail(ctx, `malformed Docker-Content-Digest ${JSON.stringify(digest)}`);
      return digest;
    }
    // Not every registry (or proxy in front of one) sends the header: the digest is the body's sha256.
    const getCtx: Ctx = { ...ctx, what: `GET manifest ${tag}` };
    const get = await this.client.request("GET", url, pullScope(repository), getCtx, MANIFEST_ACCEPT);
    if (get.status === 404) return undefined;
    if (get.status !== 200) throw this.client.statusError(get, getCtx);
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
          throw this.client.fail(
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
      const url = this.client.url(`/v2/${repository}/manifests/${digest}`);
      const reply = await this.client.request("GET", url, pullScope(repository), ctx, MANIFEST_ACCEPT);
      if (reply.status === 404) {
        throw this.client.fail(
          ctx,
          "the manifest disappeared during the check (a concurrent push or delete?)",
        );
      }
      if (reply.status !== 200) throw this.client.statusError(reply, ctx);
      verifyDigest(reply.body, digest, () => this.client.fail(ctx, "the body does not match its digest"));
      body = reply.body;
      contentType = reply.headers.get("content-type");
    }
    const json = parseJson(body, () => this.client.fail(ctx, "the manifest is not JSON"));
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
    const reply = await this.client.request(
      "GET",
      this.client.url(`/v2/${repository}/blobs/${configDigest}`),
      pullScope(repository),
      ctx,
    );
    if (reply.status === 404) throw this.client.fail(ctx, "the image config blob is missing");
    if (reply.status !== 200) throw this.client.statusError(reply, ctx);
    verifyDigest(reply.body, configDigest, () => this.client.fail(ctx, "the body does not match its digest"));
    return parseJson(reply.body, () => this.client.fail(ctx, "the image config is not JSON"));
  }

  // ------------------------------------------------------------------------------------------
  // Helpers
  // ------------------------------------------------------------------------------------------

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
}

// ---------------------------------------------------------------------------------------------
// Pure helpers (exported for tests)
// ---------------------------------------------------------------------------------------------

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
