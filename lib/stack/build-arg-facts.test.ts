import { describe, expect, it } from "vitest";
import { fillPlaceholders, placeholdersIn } from "./build-arg-facts";

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("build-arg placeholders", () => {
  it("fills the commit, its short form and its time; doubled braces are literal", () => {
    expect(fillPlaceholders("{commit}", { commit: SHA })).toBe(SHA);
    expect(fillPlaceholders("v-{commitShort}@{commitTime}", { commit: SHA, commitTime: 1700000000 })).toBe(
      "v-0123456@1700000000",
    );
    expect(fillPlaceholders("{{commit}}", { commit: SHA })).toBe("{commit}");
    expect(fillPlaceholders("plain", { commit: SHA })).toBe("plain");
  });

  it("names what a value uses, and every problem with it", () => {
    expect(placeholdersIn("{commit}-{commitTime}")).toEqual({
      names: ["commit", "commitTime"],
      problems: [],
    });
    expect(placeholdersIn("{sha} {")).toEqual({
      names: [],
      problems: [
        "unknown placeholder {sha} (expected one of {commit}, {commitShort}, {commitTime})",
        'a lone "{" (write "{{" for a literal brace)',
      ],
    });
  });

  it("refuses to fill a time the stack does not have", () => {
    expect(() => fillPlaceholders("{commitTime}", { commit: SHA })).toThrow("no value for {commitTime}");
  });
});
