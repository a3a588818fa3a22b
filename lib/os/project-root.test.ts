import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findProjectRoot, PROJECT_ROOT } from "./project-root";

describe("findProjectRoot", () => {
  const tree = (files: string[]) => (p: string) => files.includes(p);

  it("is the same directory from the sources and from their build in dist/", () => {
    const exists = tree(["/p/package.json"]);
    expect(findProjectRoot("/p/lib/local", exists)).toBe("/p");
    expect(findProjectRoot("/p/dist/lib/local", exists)).toBe("/p");
    expect(findProjectRoot("/p", exists)).toBe("/p");
  });

  it("stops at the nearest package.json", () => {
    expect(findProjectRoot("/a/b/c", tree(["/a/package.json", "/a/b/package.json"]))).toBe("/a/b");
  });

  it("throws, naming the start, when there is none", () => {
    expect(() => findProjectRoot("/x/y", tree([]))).toThrow("no package.json at or above /x/y");
  });

  it("finds this repository from lib/os", () => {
    expect(PROJECT_ROOT).toBe(join(__dirname, "..", ".."));
  });
});
