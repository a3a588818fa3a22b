import { describe, expect, it } from "vitest";
import { median } from "./stats";

describe("median", () => {
  it("takes the middle of an odd count, whatever the order", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([9, 100, 1, 5, 7])).toBe(7);
  });
  it("averages the two middle values of an even count", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 20])).toBe(15);
  });
  it("does not reorder its input", () => {
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });
  it("is the value itself for one run", () => {
    expect(median([42])).toBe(42);
  });
});
