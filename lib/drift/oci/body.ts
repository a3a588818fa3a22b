/** Reading a registry's answer bodies: JSON objects, content digests, and distribution error codes. */
import { createHash } from "node:crypto";

/** A JSON object, or `fail()` thrown (never the parser's message: it can quote the body). */
export function parseJson(body: Buffer, fail: () => Error): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
  } catch {
    throw fail();
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw fail();
  return value as Record<string, unknown>;
}

/** The digest a registry gives content it was sent without one. */
export function sha256Digest(body: Buffer): string {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

export function verifyDigest(body: Buffer, digest: string, fail: () => Error): void {
  const [algorithm, hex] = digest.split(":");
  // Only sha256/sha512 can be checked with what node ships; others are taken on trust.
  if (algorithm !== "sha256" && algorithm !== "sha512") return;
  if (createHash(algorithm).update(body).digest("hex") !== hex) throw fail();
}

/** The codes of a distribution error body ({"errors":[{"code":...}]}), if it is one. */
export function errorCodes(body: Buffer): string[] {
  try {
    const json = JSON.parse(body.toString("utf8")) as { errors?: Array<{ code?: unknown }> };
    return (json.errors ?? []).map((e) => e.code).filter((c): c is string => typeof c === "string");
  } catch {
    return [];
  }
}

/** The error codes as a suffix for a message, or nothing. */
export function describeErrors(body: Buffer): string {
  const codes = errorCodes(body);
  return codes.length > 0 ? ` (${codes.join(", ")})` : "";
}
