import { describe, expect, it } from "vitest";
import { blobProblem, commitHeader, treeSlots } from "./tree-object";

const OID_A = "a".repeat(40);
const OID_B = "b".repeat(40);

/** A raw tree object: "<mode> <name>\0<20-byte oid>" per entry, as git stores it. */
const tree = (...entries: Array<[string, string, string]>) =>
  Buffer.concat(
    entries.map(([mode, name, oid]) =>
      Buffer.concat([Buffer.from(`${mode} ${name}\0`, "utf8"), Buffer.from(oid, "hex")]),
    ),
  );

describe("commitHeader", () => {
  const commit = [
    `tree ${OID_A}`,
    `parent ${OID_B}`,
    "author A U Thor <a@example.com> 1700000000 +0100",
    "committer C O Mitter <c@example.com> 1700000123 -0500",
    "",
    "tree deadbeef is only the message",
  ].join("\n");

  it("reads the committer's time and the root tree", () => {
    expect(commitHeader(commit)).toEqual({ time: 1700000123, root: OID_A });
  });

  it("is undefined without a committer line or a full tree id", () => {
    expect(commitHeader(commit.replace(/^committer .*$/m, ""))).toBeUndefined();
    expect(commitHeader(commit.replace(`tree ${OID_A}`, "tree abc"))).toBeUndefined();
  });
});

describe("treeSlots: a tree object's entries as the walk's slots, in tree order", () => {
  it("maps each mode to what the walk does with it, under the prefix", () => {
    const raw = tree(
      ["100644", "a.txt", OID_A],
      ["100755", "run.sh", OID_B],
      ["100664", "old.txt", OID_A],
      ["120000", "link", OID_B],
      ["160000", "sub", OID_A],
      ["40000", "dir", OID_B],
    );
    expect(treeSlots(raw, "p/")).toEqual([
      { blob: { mode: "100644", type: "blob", oid: OID_A, path: "p/a.txt" } },
      { blob: { mode: "100755", type: "blob", oid: OID_B, path: "p/run.sh" } },
      { blob: { mode: "100644", type: "blob", oid: OID_A, path: "p/old.txt" } },
      { symlink: { mode: "120000", type: "blob", oid: OID_B, path: "p/link" } },
      { file: { mode: "160000", type: "commit", oid: OID_A, path: "p/sub" } },
      { subtree: OID_B, prefix: "p/dir/" },
    ]);
  });

  it("reports names git never writes, and skips them", () => {
    const raw = tree(
      ["100644", "..", OID_A],
      ["100644", ".", OID_A],
      ["100644", "a/b", OID_A],
      ["100644", "", OID_A],
    );
    expect(treeSlots(raw, "")).toEqual([
      { problem: "..: tree entry name '..' is not a file name" },
      { problem: ".: tree entry name '.' is not a file name" },
      { problem: "a/b: tree entry name 'a/b' contains '/'" },
      { problem: "(empty name): tree entry name '' is not a file name" },
    ]);
  });

  it("reports a name twice in one tree, and still keeps both entries", () => {
    const slots = treeSlots(tree(["100644", "x", OID_A], ["40000", "x", OID_B]), "");
    expect(slots).toEqual([
      { blob: { mode: "100644", type: "blob", oid: OID_A, path: "x" } },
      { problem: "x: appears twice in one tree" },
      { subtree: OID_B, prefix: "x/" },
    ]);
  });

  it("reports a mode git does not write", () => {
    expect(treeSlots(tree(["100600", "f", OID_A]), "d/")).toEqual([
      { problem: "d/f: unsupported mode 100600 (git writes 100644, 100755, 120000, 160000 or 40000)" },
    ]);
  });

  it("an empty tree has no slots", () => {
    expect(treeSlots(Buffer.alloc(0), "")).toEqual([]);
  });
});

describe("blobProblem", () => {
  const file = { mode: "100644", type: "blob" as const, oid: OID_A, path: "f" };
  it("says which of absent or another type", () => {
    expect(blobProblem(file, undefined)).toBe(`f: blob ${OID_A} is not among the fetched objects`);
    expect(blobProblem(file, "tree")).toBe(`f: the tree says blob, but ${OID_A} is a tree, not a blob`);
  });
});
