import { describe, expect, it } from "vitest";
import { intOption } from "./args";

describe("intOption", () => {
  it("accepts whole numbers from the minimum up", () => {
    expect(intOption("runs", "3", 1)).toBe(3);
    expect(intOption("runs", "1", 1)).toBe(1);
    expect(intOption("latency-ms", "0", 0)).toBe(0);
  });
  it("rejects fractions, words and values below the minimum, naming the option", () => {
    expect(() => intOption("runs", "0", 1)).toThrow('--runs: expected a whole number >= 1, got "0"');
    expect(() => intOption("runs", "2.5", 1)).toThrow("--runs");
    expect(() => intOption("tags", "many", 2)).toThrow('--tags: expected a whole number >= 2, got "many"');
    expect(() => intOption("latency-ms", "-1", 0)).toThrow("--latency-ms");
  });
  it("rejects a missing value", () => {
    expect(() => intOption("mib", undefined, 1)).toThrow("got null");
  });
});
