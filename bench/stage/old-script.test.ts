import { describe, expect, it } from "vitest";
import type { FixtureEntry } from "./fixtures";
import { oldScriptList, parseBaseline } from "./old-script";
import { measured } from "./test-runs";

describe("parseBaseline", () => {
  // Seconds as $EPOCHREALTIME prints them: clone+checkout 0→2 s, counting 2→2.5 s, rm 2.5→2.6 s.
  const stdout = [
    "plugins/a 100.000 102.000 102.500 102.600 40",
    "org-templates/b 200.000 200.300 200.400 200.450 7",
    "",
  ].join("\n");

  it("times each entry as clone, checkout and rm, without the counting", () => {
    const b = parseBaseline(measured({ wallMs: 5000, stdout }), 2);
    expect(b.perEntry.map((e) => e.entry)).toEqual(["plugins/a", "org-templates/b"]);
    expect(b.perEntry[0]?.ms).toBeCloseTo(2100, 6);
    expect(b.perEntry[1]?.ms).toBeCloseTo(350, 6);
    expect(b.objects).toBe(47);
  });

  it("subtracts the bench's counting from the wall time", () => {
    const b = parseBaseline(measured({ wallMs: 5000, stdout }), 2);
    expect(b.wallExclCountingMs).toBeCloseTo(5000 - 500 - 100, 6);
  });

  it("fails when the script staged fewer entries than expected", () => {
    expect(() => parseBaseline(measured({ stdout }), 3)).toThrow("old clone script staged 2 entries");
  });
});

describe("oldScriptList", () => {
  it("writes one tab-separated line per entry, the list as its staged directory", () => {
    const e = { list: "workspace_templates", name: "hermes", repo: "acme/hermes", sha: "a".repeat(40) };
    expect(oldScriptList([e as FixtureEntry])).toBe(
      `workspace-configs-templates\thermes\tacme/hermes\t${"a".repeat(40)}\n`,
    );
  });
});
