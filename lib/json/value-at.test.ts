import { describe, expect, it } from "vitest";
import { valueAt } from "./value-at";

describe("valueAt", () => {
  const doc = { a: [{ b: "x" }, null], s: "text", r: "[secret]" };
  it("walks objects and arrays", () => {
    expect(valueAt(doc, ["a", 0, "b"])).toBe("x");
    expect(valueAt(doc, [])).toBe(doc);
  });
  it("is undefined where the path leaves the document", () => {
    expect(valueAt(doc, ["a", 1, "b"])).toBeUndefined();
    expect(valueAt(doc, ["s", "length"])).toBeUndefined();
    expect(valueAt(doc, ["missing", "deeper"])).toBeUndefined();
  });
  it("stops at an opaque value and returns it for everything below", () => {
    expect(valueAt(doc, ["r", "inner"], "[secret]")).toBe("[secret]");
    expect(valueAt(doc, ["r", "inner"])).toBeUndefined();
  });
});
