import { describe, expect, it } from "vitest";
import { resolveLink } from "../lib/staging/tree";

const links = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe("resolveLink (symlinks must stay inside their entry)", () => {
  it("accepts links that stay inside, including chains through in-tree links", () => {
    const tree = links({
      "docs/latest": "v2",
      "readme.md": "docs/latest/intro.md",
      "a/b/up": "..",
      "a/b/sib": "up/c",
    });
    expect(resolveLink("docs/latest", tree)).toBe("docs/v2");
    expect(resolveLink("readme.md", tree)).toBe("docs/v2/intro.md");
    expect(resolveLink("a/b/up", tree)).toBe("a");
    expect(resolveLink("a/b/sib", tree)).toBe("a/c");
    expect(resolveLink("self", links({ self: "." }))).toBe("");
  });

  it("rejects links that leave the entry, directly or through other links, absolute targets and loops", () => {
    expect(resolveLink("x", links({ x: "../../etc/passwd" }))).toBeUndefined();
    expect(resolveLink("x", links({ x: "/etc/passwd" }))).toBeUndefined();
    expect(resolveLink("x", links({ x: ".." }))).toBeUndefined();
    // Textually inside (a/up/../.. normalises to "."), but a/up is itself a link to "..": the kernel ends outside.
    const sneaky = links({ "a/up": "..", escape: "a/up/../../outside" });
    expect(resolveLink("escape", sneaky)).toBeUndefined();
    expect(resolveLink("via", links({ via: "abs/file", abs: "/tmp" }))).toBeUndefined();
    expect(resolveLink("a", links({ a: "b", b: "a" }))).toBeUndefined();
  });
});
