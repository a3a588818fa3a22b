/**
 * When the image behind a manifest digest was built: its config's `created`, following an index to its
 * first platform image. The registry records no push time, so this is the age the drift check reports.
 */
import { parseJson, verifyDigest } from "./body";
import { pullScope, type RegistryClient } from "./client";
import type { Ctx, Io } from "./context";
import {
  configDigest,
  createdDate,
  firstImage,
  MANIFEST_ACCEPT,
  type ManifestKind,
  manifestKind,
  schema1Created,
} from "./media-types";
import type { FetchedManifest } from "./tags";

/** Index nesting we follow before calling an image's date unknown (real indexes are one level deep). */
const MAX_INDEX_DEPTH = 3;

/** Runs a request within a describe()'s concurrency limit. */
export type Run = <T>(fn: () => Promise<T>) => Promise<T>;

/** What one describe() shares with its image lookups. */
export interface Lookup {
  repository: string;
  run: Run;
  /** Manifests already fetched in full (by tag), by digest. */
  fetched: Map<string, FetchedManifest>;
  io: Io;
}

interface Manifest {
  kind: ManifestKind;
  json: Record<string, unknown>;
}

export class ImageDates {
  /**
   * Image dates found so far, by repository@digest: manifests and blobs are immutable, so this never goes
   * stale. Settled values only: an in-flight lookup belongs to one describe() and dies with its abort.
   */
  private readonly created = new Map<string, Date | null>();

  constructor(private readonly client: RegistryClient) {}

  /** The `created` of the image behind `digest`; null when unknown. */
  async of(lookup: Lookup, digest: string, depth = 0): Promise<Date | null> {
    const key = `${lookup.repository}@${digest}`;
    if (this.created.has(key)) return this.created.get(key) ?? null;
    const result = await this.read(lookup, digest, depth);
    this.created.set(key, result);
    return result;
  }

  private async read(lookup: Lookup, digest: string, depth: number): Promise<Date | null> {
    const { repository, run } = lookup;
    const { kind, json } = await run(() => this.manifest(lookup, digest));
    if (kind === "index") {
      if (depth >= MAX_INDEX_DEPTH) return null;
      const child = firstImage(json.manifests);
      if (!child) return null;
      return await this.of(lookup, child, depth + 1);
    }
    if (kind === "image") {
      const config = configDigest(json);
      if (config === undefined) {
        throw this.client.fail(
          { repository, what: `read manifest ${digest}` },
          "the manifest has no config digest",
        );
      }
      const blob = await run(() => this.configBlob(lookup, digest, config));
      return createdDate(blob.created);
    }
    if (kind === "schema1") return schema1Created(json);
    return null;
  }

  private async manifest({ repository, fetched, io }: Lookup, digest: string): Promise<Manifest> {
    const ctx: Ctx = { repository, what: `GET manifest ${digest}`, ...io };
    const known = fetched.get(digest);
    let body = known?.body;
    let contentType = known?.contentType ?? null;
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
    { repository, io }: Lookup,
    manifestDigest: string,
    config: string,
  ): Promise<Record<string, unknown>> {
    const ctx: Ctx = { repository, what: `GET config ${config} of manifest ${manifestDigest}`, ...io };
    // Registries backed by object storage redirect blob GETs; the transport follows, and drops Authorization
    // when the redirect leaves the registry's origin.
    const url = this.client.url(`/v2/${repository}/blobs/${config}`);
    const reply = await this.client.request("GET", url, pullScope(repository), ctx);
    if (reply.status === 404) throw this.client.fail(ctx, "the image config blob is missing");
    if (reply.status !== 200) throw this.client.statusError(reply, ctx);
    verifyDigest(reply.body, config, () => this.client.fail(ctx, "the body does not match its digest"));
    return parseJson(reply.body, () => this.client.fail(ctx, "the image config is not JSON"));
  }
}
