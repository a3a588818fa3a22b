/**
 * A repository's tags on the registry: the listing (absent when the registry does not know the
 * repository), where one tag points, and telling a tag deleted since the listing from one the registry
 * lists but cannot serve.
 */
import { errorCodes, parseJson, sha256Digest, verifyDigest } from "./body";
import { pullScope, type RegistryClient } from "./client";
import type { Ctx, Io } from "./context";
import { DIGEST_RE, MANIFEST_ACCEPT } from "./media-types";
import { pages } from "./pages";
import type { ReplyHeaders } from "./transport";

/** All tags, following Link pagination; null when the registry does not know the repository. */
export async function listTags(client: RegistryClient, repository: string, io: Io): Promise<string[] | null> {
  const ctx: Ctx = { repository, what: "list tags", ...io };
  const tags: string[] = [];
  for await (const reply of pages(client, `/v2/${repository}/tags/list`, pullScope(repository), ctx)) {
    if (reply.status === 404) {
      if (errorCodes(reply.body).includes("NAME_UNKNOWN")) return null;
      throw client.statusError(reply, ctx);
    }
    if (reply.status !== 200) throw client.statusError(reply, ctx);
    const json = parseJson(reply.body, () => client.fail(ctx, "the answer is not JSON"));
    // 2.8.2 answers `"tags": null` once the last tagged manifest is deleted: the repository still exists.
    if (json.tags === null || json.tags === undefined) continue;
    if (!Array.isArray(json.tags) || !json.tags.every((t) => typeof t === "string")) {
      throw client.fail(ctx, "`tags` is not a list of names");
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
export async function confirmGone(
  client: RegistryClient,
  repository: string,
  unserved: string[],
  io: Io,
): Promise<boolean> {
  const relisted = await listTags(client, repository, io);
  if (relisted === null) return false;
  const still = new Set(relisted);
  const inconsistent = unserved.filter((tag) => still.has(tag)).sort();
  if (inconsistent.length > 0) {
    const n = inconsistent.length;
    const named = inconsistent.slice(0, 5).join(", ") + (n > 5 ? `, and ${n - 5} more` : "");
    throw client.fail(
      { repository, what: "resolve tags" },
      `the registry lists tags it cannot serve: ${n} listed tag${n > 1 ? "s answer" : " answers"} 404 (${named}), still listed on a second tags/list`,
    );
  }
  return true;
}

/** A manifest fetched in full, kept by digest so that dating its image does not fetch it again. */
export interface FetchedManifest {
  body: Buffer;
  contentType: string | null;
}

/**
 * The digest a tag points to, or undefined if the tag is gone. A tag whose image is dated anyway is
 * fetched with GET (its manifest is needed next, and one round trip is saved); the others with HEAD.
 * Every manifest fetched in full on the way is kept in `fetched`, by digest.
 */
export async function tagDigest(
  client: RegistryClient,
  repository: string,
  tag: string,
  fetched: Map<string, FetchedManifest>,
  io: Io,
  dated: boolean,
): Promise<string | undefined> {
  const url = client.url(`/v2/${repository}/manifests/${encodeURIComponent(tag)}`);
  if (!dated) {
    const ctx: Ctx = { repository, what: `HEAD manifest ${tag}`, ...io };
    const head = await client.request("HEAD", url, pullScope(repository), ctx, MANIFEST_ACCEPT);
    if (head.status === 404) return undefined;
    if (head.status !== 200) throw client.statusError(head, ctx);
    const digest = headerDigest(client, head.headers, ctx);
    if (digest) return digest;
    // Not every registry (or proxy in front of one) sends the header: the digest is the body's sha256.
  }
  const ctx: Ctx = { repository, what: `GET manifest ${tag}`, ...io };
  const get = await client.request("GET", url, pullScope(repository), ctx, MANIFEST_ACCEPT);
  if (get.status === 404) return undefined;
  if (get.status !== 200) throw client.statusError(get, ctx);
  const claimed = headerDigest(client, get.headers, ctx);
  // A registry that names one digest and serves another body would date (and count) the wrong image.
  // verifyDigest checks the header's own algorithm (sha512 too), as for every other fetched body.
  const digest = sha256Digest(get.body);
  if (claimed) {
    verifyDigest(get.body, claimed, () =>
      client.fail(ctx, `the registry names digest ${claimed} but the manifest it serves is ${digest}`),
    );
  }
  // The sha256 whatever the header's algorithm: it is what a push reports, so what the stack expects.
  fetched.set(digest, { body: get.body, contentType: get.headers.get("content-type") });
  return digest;
}

/** Docker-Content-Digest, checked for shape; undefined when absent. */
function headerDigest(client: RegistryClient, headers: ReplyHeaders, ctx: Ctx): string | undefined {
  const digest = headers.get("docker-content-digest");
  if (!digest) return undefined;
  if (!DIGEST_RE.test(digest))
    throw client.fail(ctx, `malformed Docker-Content-Digest ${JSON.stringify(digest)}`);
  return digest;
}
