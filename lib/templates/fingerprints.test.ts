import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { Fingerprints } from "./fingerprints";

let root = "";
let dest = "";
let cache = "";
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "fingerprints-"));
  dest = join(root, "dest");
  cache = join(root, "cache");
  mkdirSync(dest);
});

const files = () => readdirSync(join(cache, "stage-fingerprints"));

describe("Fingerprints: the stat fingerprints of a destination's trees, kept in the user's cache", () => {
  it("vouches for a tree only at the digest and fingerprint it was recorded with, in a later run too", () => {
    const run1 = new Fingerprints(dest, cache);
    run1.record("plugins/p", "sha256:aa", "fp1");
    expect(run1.vouches("plugins/p", "sha256:aa", "fp1")).toBe(true);
    run1.save();
    const run2 = new Fingerprints(dest, cache);
    expect(run2.vouches("plugins/p", "sha256:aa", "fp1")).toBe(true);
    expect(run2.vouches("plugins/p", "sha256:bb", "fp1")).toBe(false);
    expect(run2.vouches("plugins/p", "sha256:aa", "fp2")).toBe(false);
    expect(run2.vouches("plugins/q", "sha256:aa", "fp1")).toBe(false);
  });

  it("keeps one file per destination, the same through a symlink to it, outside the destination", () => {
    symlinkSync(dest, join(root, "link"));
    const a = new Fingerprints(dest, cache);
    a.record("plugins/p", "sha256:aa", "fp1");
    a.save();
    expect(new Fingerprints(join(root, "link"), cache).vouches("plugins/p", "sha256:aa", "fp1")).toBe(true);
    const other = join(root, "other");
    mkdirSync(other);
    expect(new Fingerprints(other, cache).vouches("plugins/p", "sha256:aa", "fp1")).toBe(false);
    expect(files()).toHaveLength(1);
    expect(readdirSync(dest)).toEqual([]);
  });

  it("merges over what another run saved meanwhile", () => {
    const a = new Fingerprints(dest, cache);
    const b = new Fingerprints(dest, cache);
    a.record("plugins/p", "sha256:aa", "fp1");
    b.record("plugins/q", "sha256:bb", "fp2");
    a.save();
    b.save();
    const c = new Fingerprints(dest, cache);
    expect(c.vouches("plugins/p", "sha256:aa", "fp1")).toBe(true);
    expect(c.vouches("plugins/q", "sha256:bb", "fp2")).toBe(true);
  });

  it("is only a cache: a corrupt file vouches for nothing, an unwritable cache throws nothing, none records nothing", () => {
    const a = new Fingerprints(dest, cache);
    a.record("plugins/p", "sha256:aa", "fp1");
    a.save();
    const [file] = files();
    writeFileSync(join(cache, "stage-fingerprints", file as string), "{not json");
    expect(new Fingerprints(dest, cache).vouches("plugins/p", "sha256:aa", "fp1")).toBe(false);
    writeFileSync(join(cache, "stage-fingerprints", file as string), '{"version":2,"entries":{}}');
    expect(new Fingerprints(dest, cache).vouches("plugins/p", "sha256:aa", "fp1")).toBe(false);

    const blocked = join(root, "blocked");
    writeFileSync(blocked, "a file where the cache directory would go");
    const b = new Fingerprints(dest, join(blocked, "cache"));
    b.record("plugins/p", "sha256:aa", "fp1");
    expect(() => b.save()).not.toThrow();

    const none = new Fingerprints(dest, undefined);
    none.record("plugins/p", "sha256:aa", "fp1");
    expect(none.vouches("plugins/p", "sha256:aa", "fp1")).toBe(false);
    expect(readFileSync(join(cache, "stage-fingerprints", file as string), "utf8")).toContain("version");
  });
});
