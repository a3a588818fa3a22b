import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildRecipe, builtRecord, EngineBuildError, recipeDir, recipeKey } from "./go-build";
import type { Recipe } from "./recipes";

const cache = mkdtempSync(join(tmpdir(), "go-build-test-"));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

const broken: Recipe = {
  id: "nothing",
  version: "v1.0.0",
  // A module path that no proxy serves and no host answers for: `go mod tidy` fails, fast and offline.
  require: { "molecule-images.invalid/nothing": "v1.0.0" },
  mains: ["molecule-images.invalid/nothing/cmd/nothing"],
};

describe("engine builds", () => {
  it("a failed build names the step and keeps its log, and leaves nothing that counts as built", async () => {
    const err = await buildRecipe(cache, broken).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineBuildError);
    const failure = err as EngineBuildError;
    expect(failure.step).toBe("go mod tidy");
    expect(failure.message).toContain(`failed at "go mod tidy"`);
    expect(failure.message).toContain(failure.log);
    expect(existsSync(failure.log)).toBe(true);
    expect(readFileSync(failure.log, "utf8")).toContain("molecule-images.invalid/nothing");
    expect(builtRecord(cache, broken)).toBeUndefined();
    expect(existsSync(join(recipeDir(cache, broken), "bin"))).toBe(false);
  }, 120_000);

  it("keys a build by its whole recipe: another flag or version is another build", () => {
    const key = recipeKey(broken);
    expect(key).toMatch(/^nothing-v1\.0\.0-[0-9a-f]{10}$/);
    expect(recipeKey({ ...broken, ldflags: ["-X a.b=c"] })).not.toBe(key);
    expect(recipeKey({ ...broken, version: "v1.0.1" })).not.toBe(key);
    expect(recipeKey({ ...broken })).toBe(key);
  });
});
