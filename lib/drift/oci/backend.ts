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
 *   tag is a request. A tag whose image is dated is a GET (the manifest is needed next, so its round trip
 *   is saved; the digest is the body's sha256, and a Docker-Content-Digest naming another is a
 *   CheckError); the others (the cache tag, a probe) are a HEAD. How much is resolved depends on the
 *   listing's size:
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

import pLimit from "p-limit";
import { CheckError, type RegistryBackend, type RepositoryFacts } from "../types";
import { parseJson } from "./body";
import { RegistryClient } from "./client";
import { type Ctx, type Io, NEVER, unexpectedFailure } from "./context";
import { describeRepository } from "./describe";
import { defaultDockerConfigPath } from "./docker-config";
import { ImageDates } from "./images";
import { pages } from "./pages";
import { httpTransport, type Transport } from "./transport";

// The distribution spec's grammar. Checked up front because URL parsing would silently resolve a `..`
// segment in a repository name to some other path.
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** The backend's defaults. One request's worst case is attempts x timeoutMs + (attempts - 1) x the longest wait. */
export const OCI_DEFAULTS = {
  /** Per attempt, headers and the whole body: a registry trickling its body is cut off too. */
  timeoutMs: 15_000,
  attempts: 4,
  concurrency: 4,
  /**
   * Requests in flight to one registry from the whole check, however many repositories run at once: one
   * connection each. 50 repositories are about 450 requests; at 32 they queued for 4 waves of round trips
   * (bench:drift: 443 ms), at 128 for 2 (209 ms). A registry refusing that many sends 429 or 503, which
   * are retried.
   */
  maxInFlight: 128,
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
  /** How requests go on the wire; default httpTransport() (node:http, one keep-alive Agent per backend). */
  transport?: Transport;
  /** Manifest and config requests in flight per describe(); default 4. */
  concurrency?: number;
  /**
   * Requests in flight to this registry at once, across every describe(), list() and token fetch;
   * default OCI_DEFAULTS.maxInFlight. The drift check runs many repositories at once: this keeps what
   * the registry sees bounded whatever their number.
   */
  maxInFlight?: number;
  /** First backoff between tries, doubled each time (with jitter); default 500. */
  retryBaseMs?: number;
  /** Cap on an honoured Retry-After; default 30000. */
  maxRetryAfterMs?: number;
}

export class OciBackend implements RegistryBackend {
  readonly host: string;
  /** http://host for loopback registries, https://host otherwise. */
  readonly baseUrl: string;
  private readonly client: RegistryClient;
  private readonly concurrency: number;
  /** Kept across describe() calls: an image's date never changes. */
  private readonly dates: ImageDates;

  constructor(host: string, opts: OciBackendOptions = {}) {
    this.host = host;
    const maxInFlight = Math.max(1, opts.maxInFlight ?? OCI_DEFAULTS.maxInFlight);
    this.client = new RegistryClient(host, opts.dockerConfigPath ?? defaultDockerConfigPath(), {
      transport: opts.transport ?? httpTransport(maxInFlight),
      timeoutMs: opts.timeoutMs ?? OCI_DEFAULTS.timeoutMs,
      attempts: Math.max(1, opts.attempts ?? OCI_DEFAULTS.attempts),
      retryBaseMs: opts.retryBaseMs ?? OCI_DEFAULTS.retryBaseMs,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? OCI_DEFAULTS.maxRetryAfterMs,
      slot: pLimit(maxInFlight),
    });
    this.baseUrl = this.client.baseUrl;
    this.concurrency = Math.max(1, opts.concurrency ?? OCI_DEFAULTS.concurrency);
    this.dates = new ImageDates(this.client);
  }

  async describe(repository: string, tags: string[], outer?: AbortSignal): Promise<RepositoryFacts> {
    if (!REPOSITORY_RE.test(repository)) {
      throw new CheckError(
        `OCI registry ${this.host}: ${JSON.stringify(repository)} is not a repository name`,
      );
    }
    const { client, dates, concurrency } = this;
    return describeRepository({ client, dates, concurrency }, repository, tags, outer);
  }

  async list(prefix: string, outer?: AbortSignal): Promise<string[]> {
    try {
      return await this.catalog(prefix, { signal: outer ?? NEVER, shared: outer ?? NEVER });
    } catch (err) {
      throw unexpectedFailure(this.host, err, undefined, "list repositories");
    }
  }

  /** The catalog's names under `prefix`, sorted, every page of it. */
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
}
