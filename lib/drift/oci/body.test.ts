import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { describeErrors, errorCodes, parseJson, sha256Digest, verifyDigest } from "./body";

const fail = () => new Error("refused");

describe("answer bodies", () => {
  it("parseJson takes objects only, failing with the caller's error", () => {
    expect(parseJson(Buffer.from('{"a":1}'), fail)).toEqual({ a: 1 });
    for (const text of ["<html>", "[1]", "null", '"s"']) {
      expect(() => parseJson(Buffer.from(text), fail), text).toThrow("refused");
    }
  });

  it("verifyDigest checks sha256 and sha512, and takes other algorithms on trust", () => {
    const body = Buffer.from("manifest");
    expect(() => verifyDigest(body, sha256Digest(body), fail)).not.toThrow();
    const sha512 = `sha512:${createHash("sha512").update(body).digest("hex")}`;
    expect(() => verifyDigest(body, sha512, fail)).not.toThrow();
    expect(() => verifyDigest(body, sha256Digest(Buffer.from("other")), fail)).toThrow("refused");
    expect(() => verifyDigest(body, "blake3:abc", fail)).not.toThrow();
  });

  it("errorCodes reads a distribution error body, and nothing else", () => {
    const body = Buffer.from(JSON.stringify({ errors: [{ code: "NAME_UNKNOWN" }, { code: 7 }, {}] }));
    expect(errorCodes(body)).toEqual(["NAME_UNKNOWN"]);
    expect(describeErrors(body)).toBe(" (NAME_UNKNOWN)");
    expect(errorCodes(Buffer.from("404 page not found"))).toEqual([]);
    expect(describeErrors(Buffer.from("null"))).toBe("");
  });
});
