import { describe, expect, it } from "vitest";
import { nextLink } from "./link";

describe("nextLink", () => {
  it("finds rel=next among other links, as sent or resolved against the page", () => {
    const header = '<https://r.example/x?page=1>; rel="prev", </v2/_catalog?last=a%2Fb&n=100>; rel="next"';
    expect(nextLink(header)).toBe("/v2/_catalog?last=a%2Fb&n=100");
    expect(nextLink(header, new URL("https://r.example/v2/_catalog"))?.href).toBe(
      "https://r.example/v2/_catalog?last=a%2Fb&n=100",
    );
  });

  it("reads rel among several values, unquoted, any case of the name, spaces around =", () => {
    expect(nextLink('</a>; rel="last next"')).toBe("/a");
    expect(nextLink("</b>;REL=next")).toBe("/b");
    expect(nextLink("</c> ; rel = next")).toBe("/c");
  });

  it("keeps a link whose quoted parameter holds a comma", () => {
    expect(nextLink('</a>; title="one, two"; rel="next"')).toBe("/a");
  });

  it("finds nothing without a next link, or in a parameter that only ends in rel", () => {
    expect(nextLink(null)).toBeUndefined();
    expect(nextLink("")).toBeUndefined();
    expect(nextLink('</x>; rel="prev"')).toBeUndefined();
    expect(nextLink('</x>; prerel="next"')).toBeUndefined();
    expect(nextLink("no link here")).toBeUndefined();
  });
});
