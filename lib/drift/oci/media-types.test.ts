import { describe, expect, it } from "vitest";
import { configDigest, createdDate, firstImage, manifestKind, schema1Created } from "./media-types";

const D1 = `sha256:${"a".repeat(64)}`;
const D2 = `sha256:${"b".repeat(64)}`;

describe("manifestKind", () => {
  it("takes the manifest's own mediaType over the Content-Type", () => {
    const json = { mediaType: "application/vnd.docker.distribution.manifest.list.v2+json", config: {} };
    expect(manifestKind(json, "application/vnd.oci.image.manifest.v1+json")).toBe("index");
    expect(manifestKind({ mediaType: "application/vnd.docker.distribution.manifest.v2+json" }, null)).toBe(
      "image",
    );
  });

  it("falls back on the Content-Type without its parameters", () => {
    const type = "application/vnd.docker.distribution.manifest.v1+prettyjws; charset=utf-8";
    expect(manifestKind({}, type)).toBe("schema1");
    expect(manifestKind({}, "application/vnd.oci.image.index.v1+json")).toBe("index");
  });

  it("falls back on the shape when no type is known (OCI made mediaType optional)", () => {
    expect(manifestKind({ manifests: [] }, null)).toBe("index");
    expect(manifestKind({ config: { digest: D1 } }, "application/json")).toBe("image");
    expect(manifestKind({ config: "not an object" }, null)).toBe("other");
    expect(manifestKind({ mediaType: "application/vnd.example.artifact" }, null)).toBe("other");
  });
});

describe("image facts", () => {
  it("firstImage skips BuildKit attestations and malformed digests", () => {
    const attestation = { digest: D1, annotations: { "vnd.docker.reference.type": "attestation-manifest" } };
    expect(firstImage([attestation, { digest: "sha256:../x" }, { digest: D2 }])).toBe(D2);
    expect(firstImage([attestation])).toBeUndefined();
    expect(firstImage("not a list")).toBeUndefined();
  });

  it("configDigest takes a well-formed digest only", () => {
    expect(configDigest({ config: { digest: D1 } })).toBe(D1);
    expect(configDigest({ config: { digest: "nope" } })).toBeUndefined();
    expect(configDigest({})).toBeUndefined();
  });

  it("createdDate: Go's zero time, junk and absence are unknown, not old", () => {
    expect(createdDate("2026-01-05T10:00:00Z")).toEqual(new Date("2026-01-05T10:00:00Z"));
    expect(createdDate("0001-01-01T00:00:00Z")).toBeNull();
    expect(createdDate("yesterday")).toBeNull();
    expect(createdDate(undefined)).toBeNull();
  });

  it("schema1Created reads the first history entry's embedded config", () => {
    const v1 = (created: string) => ({ v1Compatibility: JSON.stringify({ created }) });
    expect(schema1Created({ history: [v1("2025-12-01T08:30:00Z"), v1("2020-01-01T00:00:00Z")] })).toEqual(
      new Date("2025-12-01T08:30:00Z"),
    );
    expect(schema1Created({ history: [{ v1Compatibility: "{not json" }] })).toBeNull();
    expect(schema1Created({})).toBeNull();
  });
});
