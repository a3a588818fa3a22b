import { describe, expect, it } from "vitest";
import { mermaidLabel, mermaidText } from "./mermaid-label";

// What may appear in a label as itself: nothing here ends a quoted label, a line or the comment's fence.
const SAFE_RE = /^[A-Za-z0-9 ,.:/()+=_#;\u2026\u2192\u2212-]*$/u;

describe("mermaidText", () => {
  it("leaves names and reasons as they are", () => {
    expect(mermaidText("platform-agent 1887cb3 → aaf8d11")).toBe("platform-agent 1887cb3 → aaf8d11");
    expect(mermaidText("molecule-ai/platform")).toBe("molecule-ai/platform");
  });

  it.each([
    ['a"b', "a#34;b"],
    ["a]b[c", "a#93;b#91;c"],
    // An entity code in a name stays text: its `#` and `;` are coded too.
    ["#35;", "#35;35#59;"],
    ["%% comment", "#37;#37; comment"],
    ["x --> y", "x --#62; y"],
    ["<img src=x>", "#60;img src=x#62;"],
    ["&lt;", "#38;lt#59;"],
    ["**bold** `code`", "#42;#42;bold#42;#42; #96;code#96;"],
    ["a|b{c}", "a#124;b#123;c#125;"],
    ["@octocat", "#64;octocat"],
  ])("codes %j as %j", (input, expected) => {
    expect(mermaidText(input)).toBe(expected);
  });

  it("shows a newline or a bidi override instead of passing it on", () => {
    expect(mermaidText("a\nb --> c")).toBe("a#92;nb --#62; c");
    expect(mermaidText("a\u202eb")).toBe("a#92;u202eb");
  });

  it("codes every character outside the plain set, astral ones as one code point", () => {
    const hostile = 'x"];\n%%{init: {"theme":"dark"}}%%\nclick img0 call alert(1)\n```\n😀';
    const out = mermaidText(hostile);
    expect(out).toMatch(SAFE_RE);
    expect(out).toContain("#128512;");
    expect(out).not.toContain("\n");
  });

  it("cuts a long line", () => {
    const out = mermaidText("a".repeat(500));
    expect(out).toHaveLength(120);
    expect(out.endsWith("…")).toBe(true);
  });
});

describe("mermaidLabel", () => {
  it("joins the escaped lines with <br> inside one pair of quotes", () => {
    expect(mermaidLabel(["<b>", "x"])).toBe('"#60;b#62;<br>x"');
  });
});
