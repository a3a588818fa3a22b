import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashTree } from "./tree-hash";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe("hashTree with the files just written", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "tree-hash-"));
    mkdirSync(join(root, "sub"));
    writeFileSync(join(root, "a.txt"), "alpha");
    writeFileSync(join(root, "sub", "b.txt"), "beta!");
    symlinkSync("sub/b.txt", join(root, "link"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("gives the same digest from the written contents as from reading the files", () => {
    const written = new Map([
      ["a.txt", { size: 5, sha256: sha256("alpha") }],
      ["sub/b.txt", { size: 5, sha256: sha256("beta!") }],
    ]);
    expect(hashTree(root, written)).toBe(hashTree(root));
  });

  it("uses a written digest for its path and size, and reads the file when the size differs", () => {
    const wrong = sha256("other");
    expect(hashTree(root, new Map([["a.txt", { size: 5, sha256: wrong }]]))).not.toBe(hashTree(root));
    expect(hashTree(root, new Map([["a.txt", { size: 4, sha256: wrong }]]))).toBe(hashTree(root));
  });

  it("still sees what is on disk beyond the written files: a file added changes the digest", () => {
    const before = hashTree(root);
    writeFileSync(join(root, "sub", "extra"), "");
    expect(hashTree(root)).not.toBe(before);
  });
});
