import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type { PlannedEntry } from "../../manifest/contract";
import { statFingerprint } from "../fingerprint";
import { Fingerprints } from "../fingerprints";
import { hashTree } from "../tree";
import { intact, warmVerdict } from "./warm";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const OTHER = "89abcdef0123456789abcdef0123456789abcdef";
const entry: PlannedEntry = { list: "plugins", name: "p", repo: "acme/p", ref: SHA };
const marker = { repo: "acme/p", ref: SHA, digest: "sha256:aa" };

const disk = (present: boolean, intact: boolean) => ({
  present: vi.fn(() => present),
  intact: vi.fn(() => intact),
});

describe("warmVerdict: whether an entry's staged tree can stay", () => {
  it("unchanged when the record names the entry's repo and ref and the tree is intact", () => {
    const d = disk(true, true);
    expect(warmVerdict(entry, marker, d)).toEqual({ state: "unchanged", digest: "sha256:aa" });
    expect(d.intact).toHaveBeenCalledWith(marker);
  });

  it("damaged when the recorded tree is there but no longer hashes to the record", () => {
    expect(warmVerdict(entry, marker, disk(true, false))).toEqual({ state: "damaged" });
  });

  it("cold without reading the tree when the record is absent or names another ref or repo", () => {
    for (const m of [undefined, { ...marker, ref: OTHER }, { ...marker, repo: "acme/fork" }]) {
      const d = disk(true, true);
      expect(warmVerdict(entry, m, d)).toEqual({ state: "cold" });
      expect(d.present).not.toHaveBeenCalled();
      expect(d.intact).not.toHaveBeenCalled();
    }
  });

  it("cold without hashing when the recorded tree is gone", () => {
    const d = disk(false, true);
    expect(warmVerdict(entry, marker, d)).toEqual({ state: "cold" });
    expect(d.intact).not.toHaveBeenCalled();
  });
});

describe("intact: the recorded tree is on disk", () => {
  const makeTree = () => {
    const root = mkdtempSync(join(tmpdir(), "intact-"));
    const tree = join(root, "p");
    mkdirSync(tree, { mode: 0o755 });
    chmodSync(tree, 0o755);
    writeFileSync(join(tree, "config.yaml"), "name: p\n");
    return { root, tree, digest: hashTree(tree) };
  };

  it("trusts a fingerprint recorded for the digest without reading a file", () => {
    const { root, tree } = makeTree();
    const fingerprints = new Fingerprints(tree, join(root, "cache"));
    // Recorded against a digest the tree does not have: only a check that reads no content says yes.
    const forged = { ...marker, digest: "sha256:not-this-tree" };
    fingerprints.record("plugins/p", forged.digest, statFingerprint(tree));
    expect(intact(tree, forged, "plugins/p", fingerprints)).toBe(true);
    expect(intact(tree, forged, "plugins/p", new Fingerprints(tree, undefined))).toBe(false);
  });

  it("hashes in full without a fingerprint, and records one only for a tree that hashed to its record", () => {
    const { root, tree, digest } = makeTree();
    const fingerprints = new Fingerprints(tree, join(root, "cache"));
    const recorded = { ...marker, digest };
    expect(intact(tree, { ...marker, digest: "sha256:other" }, "plugins/p", fingerprints)).toBe(false);
    expect(fingerprints.vouches("plugins/p", "sha256:other", statFingerprint(tree))).toBe(false);
    expect(intact(tree, recorded, "plugins/p", fingerprints)).toBe(true);
    expect(fingerprints.vouches("plugins/p", digest, statFingerprint(tree))).toBe(true);
  });

  it("sees an edit after the fingerprint was recorded, and hashes the tree again", async () => {
    const { root, tree, digest } = makeTree();
    const fingerprints = new Fingerprints(tree, join(root, "cache"));
    const recorded = { ...marker, digest };
    expect(intact(tree, recorded, "plugins/p", fingerprints)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(join(tree, "config.yaml"), "name: q\n");
    expect(intact(tree, recorded, "plugins/p", fingerprints)).toBe(false);
  });
});
