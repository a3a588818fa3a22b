import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { integerFlag, requiredFlag } from "./flags";

const messageOf = (schema: z.ZodType, value: unknown) => schema.safeParse(value).error?.issues[0]?.message;

describe("integerFlag", () => {
  const concurrency = integerFlag("concurrency", { min: 1, fallback: 8 });

  it("gives the fallback when the flag is absent, and the number when it is typed", () => {
    expect(concurrency.parse(undefined)).toBe(8);
    expect(concurrency.parse("3")).toBe(3);
    expect(integerFlag("retry-delay-ms", { min: 0, fallback: 1000 }).parse("0")).toBe(0);
  });

  it.each(["0", "-1", "1.5", "many", "NaN"])(
    "rejects %j, naming the flag, the bound and the text",
    (text) => {
      expect(messageOf(concurrency, text)).toBe(`--concurrency: expected an integer >= 1, got "${text}"`);
    },
  );

  it("says what a command expects in its own words", () => {
    const days = integerFlag("max-age-days", { min: 0, fallback: 14, expected: "a whole number of days" });
    expect(days.parse(undefined)).toBe(14);
    expect(messageOf(days, "soon")).toBe('--max-age-days: expected a whole number of days, got "soon"');
    expect(messageOf(days, "-1")).toBe('--max-age-days: expected a whole number of days, got "-1"');
  });
});

describe("requiredFlag", () => {
  const manifest = requiredFlag("--manifest is required");

  it("takes any non-empty text", () => {
    expect(manifest.parse("m.json")).toBe("m.json");
  });

  it("rejects an absent flag and an empty one with the same message", () => {
    expect(messageOf(manifest, undefined)).toBe("--manifest is required");
    expect(messageOf(manifest, "")).toBe("--manifest is required");
  });
});
