import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type Current,
  currentSources,
  isBuiltSource,
  readStamp,
  STAMP_FILE,
  type Stamp,
  staleReason,
  staleSources,
  stampOf,
} from "./build-stamp";

const facts = (size: number, mtimeMs: number, sha1: string) => ({ size, mtimeMs, sha1 });
const B = (sources: Stamp["sources"]): Stamp => ({ sources, dirs: {} });
const C = (sources: Current["sources"]): Current => ({ sources, dirs: {} });
const now = (size: number, mtimeMs: number, sha1: string, hashed: string[] = []) => ({
  size,
  mtimeMs,
  sha1: () => {
    hashed.push(sha1);
    return sha1;
  },
});

describe("staleSources", () => {
  const built = B({ "a.ts": facts(10, 1, "h1"), "b.ts": facts(20, 2, "h2") });

  it("is empty when every source has its built size and mtime, and hashes nothing then", () => {
    const hashed: string[] = [];
    expect(
      staleSources(built, C({ "a.ts": now(10, 1, "h1", hashed), "b.ts": now(20, 2, "h2", hashed) })),
    ).toEqual([]);
    expect(hashed).toEqual([]);
  });

  it("names a source whose size changed, without hashing it", () => {
    const hashed: string[] = [];
    expect(staleSources(built, C({ "a.ts": now(11, 1, "h1", hashed), "b.ts": now(20, 2, "h2") }))).toEqual([
      "a.ts",
    ]);
    expect(hashed).toEqual([]);
  });

  it("hashes a source whose mtime moved: fresh when the contents are the same, stale when not", () => {
    expect(staleSources(built, C({ "a.ts": now(10, 9, "h1"), "b.ts": now(20, 2, "h2") }))).toEqual([]);
    expect(staleSources(built, C({ "a.ts": now(10, 9, "hX"), "b.ts": now(20, 2, "h2") }))).toEqual(["a.ts"]);
  });

  it("names added and removed sources", () => {
    expect(staleSources(built, C({ "a.ts": now(10, 1, "h1"), "c.ts": now(1, 1, "h3") }))).toEqual([
      "b.ts",
      "c.ts",
    ]);
  });
});

describe("staleReason", () => {
  const built = B({ "a.ts": facts(1, 1, "h") });
  const current = (sha1: string): Current => C({ "a.ts": now(1, 2, sha1) });

  it("lets a fresh build run", () => {
    expect(staleReason("stage", built, current("h"))).toBeUndefined();
  });

  it("refuses a stale build, naming the command, the changed file and the fix", () => {
    expect(staleReason("stage", built, current("new"))).toBe(
      "stage: dist/ is older than the sources (a.ts changed since the last build): run `npm run build` (npm ci runs it too), then the command again",
    );
  });

  it("refuses when there is no stamp (never built, or a build cut short)", () => {
    expect(staleReason("drift", undefined, current("h"))).toMatch(
      /^drift: dist\/ has no complete build: run `npm run build`/,
    );
  });

  it("names three changed files and counts the rest", () => {
    const many = C(Object.fromEntries(["a", "b", "c", "d", "e"].map((n) => [`${n}.ts`, now(1, 1, "h")])));
    expect(staleReason("x", B({}), many)).toContain("(a.ts, b.ts, c.ts and 2 more changed");
  });
});

describe("isBuiltSource", () => {
  it("takes the TypeScript the build compiles, not tests or declarations", () => {
    expect(isBuiltSource("lib/a.ts")).toBe(true);
    expect(isBuiltSource("lib/a.test.ts")).toBe(false);
    expect(isBuiltSource("lib/a.d.ts")).toBe(false);
    expect(isBuiltSource("lib/README.md")).toBe(false);
  });
});

describe("currentSources and readStamp on a real tree", () => {
  let root = "";
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function tree(): string {
    root = mkdtempSync(join(tmpdir(), "build-stamp-"));
    for (const dir of ["components", "lib/x", "cli"]) mkdirSync(join(root, dir), { recursive: true });
    for (const f of ["index.ts", "tsconfig.json", "tsconfig.build.json", "lib/x/a.ts", "cli/c.ts"])
      writeFileSync(join(root, f), `// ${f}\n`);
    writeFileSync(join(root, "lib/x/a.test.ts"), "test\n");
    return root;
  }

  it("lists what the build compiles, and a same-size edit with a new mtime is stale", () => {
    const dir = tree();
    const stamp = stampOf(currentSources(dir));
    expect(Object.keys(stamp.sources)).toEqual([
      "cli/c.ts",
      "index.ts",
      "lib/x/a.ts",
      "tsconfig.build.json",
      "tsconfig.json",
    ]);
    writeFileSync(join(dir, "lib/x/a.ts"), "// LIB/X/A.TS\n");
    utimesSync(join(dir, "lib/x/a.ts"), new Date(), new Date(Date.now() + 5000));
    expect(staleSources(stamp, currentSources(dir, stamp))).toEqual(["lib/x/a.ts"]);
  });

  it("walks again when a directory changed, so an added or removed source is seen", () => {
    const dir = tree();
    const stamp = stampOf(currentSources(dir));
    expect(Object.keys(stamp.dirs).sort()).toEqual(["cli", "components", "lib", "lib/x"]);
    expect(staleSources(stamp, currentSources(dir, stamp))).toEqual([]);
    writeFileSync(join(dir, "lib/x/b.ts"), "new\n");
    utimesSync(join(dir, "lib/x"), new Date(), new Date(Date.now() + 5000));
    rmSync(join(dir, "cli/c.ts"));
    expect(staleSources(stamp, currentSources(dir, stamp))).toEqual(["cli/c.ts", "lib/x/b.ts"]);
  });

  it("reads the stamp the build wrote, and none from a missing or torn file", () => {
    const dir = tree();
    expect(readStamp(dir)).toBeUndefined();
    mkdirSync(join(dir, "dist"));
    writeFileSync(join(dir, STAMP_FILE), '{"a.ts": ');
    expect(readStamp(dir)).toBeUndefined();
    writeFileSync(join(dir, STAMP_FILE), '{"a.ts": "an older shape"}');
    expect(readStamp(dir)).toBeUndefined();
    const stamp = stampOf(currentSources(dir));
    writeFileSync(join(dir, STAMP_FILE), JSON.stringify(stamp));
    expect(readStamp(dir)).toEqual(stamp);
  });
});
