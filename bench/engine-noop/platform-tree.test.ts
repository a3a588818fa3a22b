import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { platformTreeShape, prng, writePlatformTree } from "./platform-tree";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("platformTreeShape", () => {
  it("has exactly the files and folders asked for, at most 4 deep, every folder used", () => {
    const shape = platformTreeShape({ files: 6000, dirs: 600 });
    expect(shape.files).toHaveLength(6000);
    expect(new Set(shape.dirs).size).toBe(600);
    expect(new Set(shape.files.map((f) => f.path)).size).toBe(6000);
    expect(Math.max(...shape.dirs.map((d) => d.split("/").length))).toBeLessThanOrEqual(4);
    const used = new Set(shape.files.map((f) => f.path.slice(0, f.path.lastIndexOf("/"))));
    expect(used.size).toBe(600);
  });

  it("is the same tree every time for a seed, and a different one for another seed", () => {
    const a = platformTreeShape({ files: 300, dirs: 40 });
    expect(platformTreeShape({ files: 300, dirs: 40 })).toEqual(a);
    expect(platformTreeShape({ files: 300, dirs: 40, seed: 2 })).not.toEqual(a);
  });

  it("sizes files like source: a median of a few KiB, none empty, none over 128 KiB, a TS/Go/Python mix", () => {
    const { files } = platformTreeShape({ files: 6000, dirs: 600 });
    const sizes = files.map((f) => f.bytes).sort((x, y) => x - y);
    const med = sizes[3000] ?? 0;
    expect(med).toBeGreaterThan(1024);
    expect(med).toBeLessThan(8192);
    expect(sizes[0]).toBeGreaterThan(0);
    expect(sizes.at(-1)).toBeLessThanOrEqual(128 * 1024);
    for (const ext of [".ts", ".go", ".py"])
      expect(files.filter((f) => f.path.endsWith(ext)).length).toBeGreaterThan(600);
  });
});

describe("prng", () => {
  it("stays in [0, 1) and repeats for a seed", () => {
    const r = prng(7);
    const xs = Array.from({ length: 1000 }, r);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const again = prng(7);
    expect(Array.from({ length: 1000 }, again)).toEqual(xs);
  });
});

describe("writePlatformTree", () => {
  it("writes every file at its size and returns the total", () => {
    const root = mkdtempSync(join(tmpdir(), "tree-"));
    dirs.push(root);
    const shape = platformTreeShape({ files: 50, dirs: 12 });
    const total = writePlatformTree(root, shape);
    expect(total).toBe(shape.files.reduce((s, f) => s + f.bytes, 0));
    for (const f of shape.files) expect(statSync(join(root, f.path)).size).toBe(f.bytes);
    expect(readdirSync(root).length).toBeGreaterThan(0);
  });
});
