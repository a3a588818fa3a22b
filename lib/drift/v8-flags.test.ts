import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DRIFT_SCRIPTS, DRIFT_V8_FLAGS, missingDriftFlags } from "./v8-flags";

const scripts: Record<string, string> = JSON.parse(
  readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"),
).scripts;

describe("DRIFT_V8_FLAGS", () => {
  it.each(DRIFT_SCRIPTS)("npm run %s starts node with them", (name) => {
    const words = (scripts[name] ?? "").split(/\s+/);
    expect(words[0]).toBe("node");
    // Flags after the script's file would be the script's arguments, not Node's.
    const file = words.findIndex((w, i) => i > 0 && !w.startsWith("-") && words[i - 1] !== "--import");
    expect(missingDriftFlags(words.slice(0, file))).toEqual([]);
  });

  it("names what is missing", () => {
    expect(missingDriftFlags(["--import", "tsx"])).toEqual([...DRIFT_V8_FLAGS]);
    expect(missingDriftFlags([...DRIFT_V8_FLAGS, "--inspect"])).toEqual([]);
  });
});
