import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { statFingerprint } from "./fingerprint";

let root = "";
let tree = "";
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "fingerprint-"));
  tree = join(root, "tree");
  mkdirSync(join(tree, "prompts"), { recursive: true });
  writeFileSync(join(tree, "config.yaml"), "name: a\n");
  writeFileSync(join(tree, "prompts", "p.md"), "hello\n");
});

/** Waits past the file system's coarse timestamp tick, so a change lands on a later time. */
const tick = () => new Promise((r) => setTimeout(r, 20));

describe("statFingerprint: a tree's metadata, read with lstat alone", () => {
  it("is stable while nothing changes, and survives renaming the tree's root (the swap)", () => {
    const fp = statFingerprint(tree);
    expect(statFingerprint(tree)).toBe(fp);
    renameSync(tree, join(root, "moved"));
    expect(statFingerprint(join(root, "moved"))).toBe(fp);
  });

  it("moves with a same-size edit whose mtime is set back: the ctime cannot be set back", async () => {
    const file = join(tree, "config.yaml");
    // A whole second, as the stager sets (the commit's time), so setting it back is exact.
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    const before = statSync(file);
    const fp = statFingerprint(tree);
    await tick();
    writeFileSync(file, "name: b\n");
    utimesSync(file, 1_700_000_000, 1_700_000_000);
    expect(statSync(file).size).toBe(before.size);
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    expect(statFingerprint(tree)).not.toBe(fp);
  });

  it("moves with a mode change, an added or removed file, and a copy with the same times (cp -a)", async () => {
    const fp = statFingerprint(tree);
    await tick();
    chmodSync(join(tree, "config.yaml"), 0o755);
    const chmodded = statFingerprint(tree);
    expect(chmodded).not.toBe(fp);
    writeFileSync(join(tree, "prompts", "extra.md"), "");
    expect(statFingerprint(tree)).not.toBe(chmodded);
    execFileSync("cp", ["-a", tree, join(root, "copy")]);
    expect(statFingerprint(join(root, "copy"))).not.toBe(statFingerprint(tree));
  });
});
