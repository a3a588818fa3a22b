// The build the npm scripts run (npm run build, dist/): in a temp copy of the project, a source edited after
// the build makes every compiled entry refuse to start, printing nothing of the old code, until the build
// is run again; then the entry runs the new code. The copy shares this checkout's node_modules (a symlink).
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PROJECT = path.resolve(__dirname, "..", "..");
const COPIED = [
  "package.json",
  "program.js",
  "tsconfig.json",
  "tsconfig.build.json",
  "index.ts",
  "components",
  "lib",
  "cli",
];
const EDITED = "lib/pr-report/cli.ts";
const BUILD_MS = 600_000;

let copy = "";
const run = (file: string, args: string[]) =>
  spawnSync(file, args, {
    cwd: copy,
    encoding: "utf8",
    env: { ...process.env, npm_config_loglevel: "error" },
  });
const entry = (command: string) => run(process.execPath, [`dist/cli/${command}.js`, "--help"]);
const build = () => {
  const r = run("npm", ["run", "-s", "build"]);
  expect(r.status, r.stderr + r.stdout).toBe(0);
};
const edit = (from: string, to: string) => {
  const file = path.join(copy, EDITED);
  writeFileSync(file, readFileSync(file, "utf8").replace(from, to));
};

beforeAll(() => {
  copy = mkdtempSync(path.join(tmpdir(), "build-test-"));
  for (const name of COPIED) cpSync(path.join(PROJECT, name), path.join(copy, name), { recursive: true });
  symlinkSync(path.join(PROJECT, "node_modules"), path.join(copy, "node_modules"));
  build();
}, BUILD_MS);
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe("npm run build and the stale-build guard", () => {
  it("builds every entry, index.js included, and a fresh entry runs", () => {
    for (const command of ["stage", "drift", "pr-report", "local", "engine"]) {
      const r = entry(command);
      expect(r.status, `${command}: ${r.stderr}`).toBe(0);
      // engine prints its usage on stderr (its stdout is the engine's own output).
      expect(r.stdout + r.stderr).toMatch(/^usage: npm run/);
    }
    expect(existsSync(path.join(copy, "dist", "index.js"))).toBe(true);
  });

  it("runs each command from one bundled file: no module of the project or of zod is loaded beside it", () => {
    // Prints, at exit, every file Node loaded as a CommonJS module.
    const hook = path.join(copy, "loaded-modules.cjs");
    writeFileSync(
      hook,
      'process.on("exit", () => process.stderr.write("LOADED " + JSON.stringify(Object.keys(require.cache)) + "\\n"));',
    );
    for (const command of ["stage", "drift", "pr-report", "local"]) {
      const r = run(process.execPath, ["--require", hook, `dist/cli/${command}.js`, "--help"]);
      expect(r.status, r.stderr).toBe(0);
      const loaded: string[] = JSON.parse(r.stderr.split("LOADED ")[1] ?? "[]");
      const own = loaded.filter((f) => !f.includes("node_modules") && f !== hook);
      expect(own, command).toEqual([path.join(copy, "dist", "cli", `${command}.js`)]);
      expect(
        loaded.filter((f) => f.includes(`${path.sep}zod${path.sep}`)),
        command,
      ).toEqual([]);
    }
  });

  /** Which program Pulumi would get from program.js (Pulumi.yaml's main): the load is recorded, not run. */
  const programPicked = () => {
    const hook = path.join(copy, "which-program.cjs");
    writeFileSync(
      hook,
      `const Module = require("node:module");
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (/(^|\\/)(dist\\/index\\.js|index\\.ts)$/.test(request)) {
    process.stdout.write("PICKED " + request + "\\n");
    return {};
  }
  return load.apply(this, arguments);
};`,
    );
    const r = run(process.execPath, ["--require", hook, "program.js"]);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it("program.js runs the compiled program while dist/ matches the sources", () => {
    expect(programPicked()).toBe("PICKED ./dist/index.js");
  });

  it("still runs after a touch that leaves the sources as they were", () => {
    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(copy, EDITED), later, later);
    expect(entry("pr-report").status).toBe(0);
  });

  it(
    "refuses to run a stale build, running none of its code, until it is rebuilt",
    () => {
      // Same length, so only the contents (and the mtime) tell the edit apart.
      edit("usage: npm run pr-report", "USAGE: npm run pr-report");
      for (const command of ["pr-report", "stage", "drift", "local"]) {
        const r = entry(command);
        expect(r.status, command).toBe(2);
        expect(r.stdout, command).toBe("");
        expect(r.stderr).toContain(`${command}: dist/ is older than the sources (${EDITED} changed`);
        expect(r.stderr).toContain("run `npm run build`");
      }
      // The program, unlike a command, still runs: from the sources, through tsx.
      expect(programPicked()).toBe("PICKED ./index.ts");
      const viaNpm = run("npm", ["run", "-s", "pr-report", "--", "--help"]);
      expect(viaNpm.status).toBe(2);
      expect(viaNpm.stdout).toBe("");
      build();
      const r = entry("pr-report");
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^USAGE: npm run pr-report/);
    },
    BUILD_MS,
  );

  it("refuses while a build has no stamp (cut short or still running)", () => {
    rmSync(path.join(copy, "dist", ".build-stamp.json"));
    const r = entry("pr-report");
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("pr-report: dist/ has no complete build: run `npm run build`");
  });
});
