/**
 * The manifest formats a registry serves, told apart, and the image facts read from them: which image of
 * an index dates it, which config an image has, and when it was built.
 */

/**
 * Every manifest type we can read. Registries pick the representation from Accept: 2.8.2 answers an OCI
 * manifest requested without the OCI type with 404, and down-converts a Docker schema2 manifest fetched
 * without its type to a signed schema1 one, whose digest differs from the pushed one.
 */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

const INDEX_TYPES = new Set([
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
]);
const IMAGE_TYPES = new Set([
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
]);
const SCHEMA1_TYPES = new Set([
  "application/vnd.docker.distribution.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v1+prettyjws",
]);

/** The distribution spec's digest grammar. */
export const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** "other" is an artifact or an unknown format: no image date to read. */
export type ManifestKind = "index" | "image" | "schema1" | "other";

/**
 * What a manifest is: its `mediaType` field, else the Content-Type it was served with (null when unknown),
 * else its shape, since OCI made `mediaType` optional in manifests.
 */
export function manifestKind(json: Record<string, unknown>, contentType: string | null): ManifestKind {
  const declared = typeof json.mediaType === "string" ? json.mediaType : (contentType?.split(";")[0] ?? "");
  if (INDEX_TYPES.has(declared)) return "index";
  if (IMAGE_TYPES.has(declared)) return "image";
  if (SCHEMA1_TYPES.has(declared)) return "schema1";
  if (Array.isArray(json.manifests)) return "index";
  if (json.config && typeof json.config === "object") return "image";
  return "other";
}

/** The first platform image of an index; BuildKit attestation manifests are listed alongside images. */
export function firstImage(manifests: unknown): string | undefined {
  if (!Array.isArray(manifests)) return undefined;
  for (const m of manifests as Array<{ digest?: unknown; annotations?: Record<string, unknown> }>) {
    if (m?.annotations?.["vnd.docker.reference.type"] === "attestation-manifest") continue;
    if (typeof m?.digest === "string" && DIGEST_RE.test(m.digest)) return m.digest;
  }
  return undefined;
}

/** An image manifest's config digest, if it has a well-formed one. */
export function configDigest(json: Record<string, unknown>): string | undefined {
  const config = json.config as { digest?: unknown } | undefined;
  return typeof config?.digest === "string" && DIGEST_RE.test(config.digest) ? config.digest : undefined;
}

/** A config `created` as a date, or null when absent, unparsable, or Go's zero time (meaning unset). */
export function createdDate(value: unknown): Date | null {
  if (typeof value !== "string") return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1) return null;
  return date;
}

/** Schema 1 keeps each layer's config as a JSON string; the first entry is the image's own. */
export function schema1Created(json: Record<string, unknown>): Date | null {
  const history = json.history as Array<{ v1Compatibility?: unknown }> | undefined;
  const v1 = history?.[0]?.v1Compatibility;
  if (typeof v1 !== "string") return null;
  try {
    return createdDate((JSON.parse(v1) as { created?: unknown }).created);
  } catch {
    return null;
  }
}
