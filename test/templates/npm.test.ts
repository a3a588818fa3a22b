// The stager as a user runs it: the README's own command (npm and all), not `tsx cli/stage.ts`. What only
// npm does shows here: its banner on stdout, and the working directory it changes to the package root.

import { spawn } from "node:child_process";
import { mkdir, readdir, readFile, symlink } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitEnv, makeTempDir, removeDir } from "../support/git-fixtures";
import {
  diffAgainstCommit,
  entryDir,
  PROJECT,
  type StageOutput,
  type StageRun,
  writeManifest,
} from "../support/stage-cli";
import { createTemplateSet, manifestOf, type TemplateSet } from "../support/stage-fixtures";

let root: string;
let scratch: string;
let set: TemplateSet;
let dirs = 0;

beforeAll(async () => {
  root = await makeTempDir("stage-npm-repos-");
  scratch = await makeTempDir("stage-npm-work-");
  set = await createTemplateSet(root);
});

afterAll(async () => {
  await Promise.all([root, scratch].filter(Boolean).map(removeDir));
});

/**
 * The command the README's "Templates" section shows, up to its first option: what a user
 * copies. Read from the README itself, so the test runs whatever the documentation says.
 */
async function documentedCommand(): Promise<string[]> {
  const readme = await readFile(path.join(PROJECT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Templates (`npm run stage`)"));
  const line = /```\n(.*)\n/.exec(section)?.[1] ?? "";
  const words = line.split(/\s+/);
  const command = words.slice(0, words.indexOf("--manifest"));
  expect(command[0], line).toBe("npm");
  return command;
}

/** Runs the documented command with `args` in `cwd`, in a clean environment (npm's own state in a temp HOME). */
async function runDocumented(args: string[], cwd: string, documented?: string[]): Promise<StageRun> {
  const [command = "npm", ...rest] = documented ?? (await documentedCommand());
  const home = path.join(scratch, "home");
  // No update check: it is a network call, and its notice would be one more line of npm's own.
  const env = gitEnv({ HOME: home, npm_config_update_notifier: "false", npm_config_fund: "false" });
  const child = spawn(command, [...rest, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe("the README's command", () => {
  it("prints the JSON document alone on stdout: its whole stdout parses", async () => {
    const dir = path.join(scratch, `${++dirs}-clean`);
    const dest = path.join(dir, "deps");
    const file = await writeManifest(`${dir}.manifest.json`, manifestOf([set.extra], "a"));
    const run = await runDocumented(
      ["--manifest", file, "--dest", dest, "--git-base-url", `file://${root}`],
      PROJECT,
    );
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as StageOutput;
    expect(out.entries.map((e) => [e.name, e.action])).toEqual([[set.extra.name, "fetched"]]);
    expect(
      await diffAgainstCommit(entryDir(dest, "plugins", set.extra.name), set.extra.fixture.dir, set.extra.a),
    ).toEqual([]);
  });

  it("without -s npm's banner comes first on stdout, and the stager says so on stderr", async () => {
    const command = (await documentedCommand()).filter((w) => w !== "-s" && w !== "--silent");
    const dir = path.join(scratch, `${++dirs}-banner`);
    const file = await writeManifest(`${dir}.manifest.json`, manifestOf([set.extra], "a"));
    const run = await runDocumented(
      ["--manifest", file, "--dest", path.join(dir, "deps"), "--git-base-url", `file://${root}`],
      PROJECT,
      command,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^\s*> molecule-images@\S+ stage\n/);
    expect(run.stderr).toContain("`npm run -s stage -- ...` prints the JSON alone");
  });
});

describe("relative paths", () => {
  /**
   * A checkout of this package somewhere else (its package.json, cli/, lib/, the build in dist/ that the npm
   * script runs, and node_modules linked in), so that a subdirectory of it can be written to without writing
   * into the repository.
   */
  async function checkout(): Promise<string> {
    const dir = path.join(scratch, `${++dirs}-checkout`);
    await mkdir(dir);
    for (const name of ["package.json", "cli", "lib", "dist", "node_modules"])
      await symlink(path.join(PROJECT, name), path.join(dir, name));
    return dir;
  }

  it("resolve from the directory the command was typed in, not the package root npm runs it from", async () => {
    const pkg = await checkout();
    const sub = path.join(pkg, "sample", "work");
    await mkdir(sub, { recursive: true });
    await writeManifest(path.join(sub, "manifest.json"), manifestOf([set.extra], "a"));
    // The same relative names at the package root: the wrong resolution would find a manifest there.
    await writeManifest(path.join(pkg, "manifest.json"), manifestOf([set.plugDev], "a"));
    const run = await runDocumented(
      ["--manifest", "manifest.json", "--dest", "deps", "--git-base-url", `file://${root}`],
      sub,
    );
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as StageOutput).entries.map((e) => e.name)).toEqual([set.extra.name]);
    expect(
      await diffAgainstCommit(
        entryDir(path.join(sub, "deps"), "plugins", set.extra.name),
        set.extra.fixture.dir,
        set.extra.a,
      ),
    ).toEqual([]);
    expect((await readdir(pkg)).sort()).toEqual([
      "cli",
      "dist",
      "lib",
      "manifest.json",
      "node_modules",
      "package.json",
      "sample",
    ]);
  });
});
