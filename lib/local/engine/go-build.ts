/**
 * Builds one recipe with Go from the module proxy, in a wrapper module under the cache, and keeps the result
 * by recipe: a recipe that is already built is never built again. A build that fails keeps its log and says
 * which step failed; a build that is killed leaves no half-written binaries behind (they are renamed into
 * place only when every one of them is built).
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { startTicker } from "../progress";
import { binaryName, type Recipe } from "./recipes";

export interface BuildRecord {
  recipe: string;
  version: string;
  seconds: number;
  /** Binary name -> size in bytes. */
  binaries: Record<string, number>;
  builtAt: string;
}

export class EngineBuildError extends Error {
  constructor(
    readonly recipe: string,
    readonly step: string,
    readonly log: string,
    detail: string,
  ) {
    super(`building ${recipe} failed at "${step}" (${detail}); the build log is kept at ${log}`);
  }
}

/** Measured cold on a 2-core Debian machine (minutes of CPU on two cores): the estimate before any build here. */
const FIRST_ESTIMATE_S: Record<string, number> = {
  pulumi: 400,
  "pulumi-language-nodejs": 90,
  "docker-build": 300,
  buildkit: 240,
};

export const recipeKey = (r: Recipe): string =>
  `${r.id}-${r.version}-${createHash("sha256").update(JSON.stringify(r)).digest("hex").slice(0, 10)}`;

export const recipeDir = (cache: string, r: Recipe): string => join(cache, "engine", recipeKey(r));

export function builtRecord(cache: string, r: Recipe): BuildRecord | undefined {
  const file = join(recipeDir(cache, r), "build.json");
  if (!existsSync(file)) return undefined;
  const record = JSON.parse(readFileSync(file, "utf8")) as BuildRecord;
  const bin = join(recipeDir(cache, r), "bin");
  return r.mains.every((m) => existsSync(join(bin, binaryName(m)))) ? record : undefined;
}

export const binaryPath = (cache: string, r: Recipe, name: string): string =>
  join(recipeDir(cache, r), "bin", name);

function goMod(r: Recipe): string {
  const lines = [`module molecule-images.local/engine/${r.id}`, "", "go 1.26", ""];
  for (const [mod, version] of Object.entries(r.require)) lines.push(`require ${mod} ${version}`);
  for (const [mod, target] of Object.entries(r.replace ?? {})) lines.push(`replace ${mod} => ${target}`);
  for (const shim of r.shims ?? []) lines.push(`replace ${shim.module} => ./${shim.dir}`);
  for (const ex of r.exclude ?? []) lines.push(`exclude ${ex}`);
  return `${lines.join("\n")}\n`;
}

// The wrapper names each main package in a file that is never compiled, so `go mod tidy` keeps them.
const toolsGo = (r: Recipe): string =>
  `//go:build tools\n\npackage tools\n\nimport (\n${r.mains.map((m) => `\t_ "${m}"`).join("\n")}\n)\n`;

function writeWrapper(dir: string, r: Recipe): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "go.mod"), goMod(r));
  writeFileSync(join(dir, "tools.go"), toolsGo(r));
  for (const shim of r.shims ?? []) {
    const root = join(dir, shim.dir);
    for (const [path, content] of Object.entries(shim.files)) {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    writeFileSync(join(root, "go.mod"), `module ${shim.module}\n\ngo 1.26\n`);
  }
}

function goEnv(cache: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOMODCACHE: join(cache, "go", "mod"),
    GOCACHE: join(cache, "go", "build"),
    GOFLAGS: "-mod=mod -buildvcs=false",
    CGO_ENABLED: "0",
  };
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv, log: string): Promise<number> {
  const fd = openSync(log, "a");
  writeFileSync(fd, `\n$ go ${args.join(" ")}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, { cwd, env, stdio: ["ignore", fd, fd] });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

function readTimings(cache: string): Record<string, number> {
  try {
    return JSON.parse(readFileSync(join(cache, "engine", "timings.json"), "utf8"));
  } catch {
    return {};
  }
}

export async function buildRecipe(cache: string, r: Recipe): Promise<BuildRecord> {
  const dir = recipeDir(cache, r);
  writeWrapper(dir, r);
  const log = join(dir, "build.log");
  writeFileSync(log, `build of ${r.id} ${r.version}, ${new Date().toISOString()}\n`);
  const env = goEnv(cache);
  const timings = readTimings(cache);
  const last = timings[r.id];
  const typical = FIRST_ESTIMATE_S[r.id];
  const estimate =
    last !== undefined
      ? { ms: last * 1000, basis: "last build took" }
      : typical !== undefined
        ? { ms: typical * 1000, basis: "a cold build on 2 cores takes about" }
        : undefined;
  const binaries = r.mains.map(binaryName).join(", ");
  const ticker = startTicker(`engine: building ${binaries} (${r.version})`, estimate);
  const started = Date.now();
  const fail = (step: string, detail: string) => {
    ticker.stop("failed");
    return new EngineBuildError(r.id, step, log, detail);
  };

  let code = await run(["mod", "tidy"], dir, env, log);
  if (code !== 0) throw fail("go mod tidy", `exit ${code}`);
  const staging = join(dir, "bin.partial");
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  const flags = ["-trimpath"];
  if (r.tags?.length) flags.push("-tags", r.tags.join(","));
  if (r.ldflags?.length) flags.push("-ldflags", r.ldflags.join(" "));
  code = await run(["build", ...flags, "-o", `${staging}/`, ...r.mains], dir, env, log);
  if (code !== 0) throw fail("go build", `exit ${code}`);

  const bin = join(dir, "bin");
  rmSync(bin, { recursive: true, force: true });
  renameSync(staging, bin);
  const record: BuildRecord = {
    recipe: r.id,
    version: r.version,
    seconds: Math.round((Date.now() - started) / 1000),
    binaries: Object.fromEntries(
      r.mains.map((m) => [binaryName(m), statSync(join(bin, binaryName(m))).size]),
    ),
    builtAt: new Date().toISOString(),
  };
  ticker.stop("built");
  writeFileSync(join(dir, "build.json"), `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(
    join(cache, "engine", "timings.json"),
    `${JSON.stringify({ ...readTimings(cache), [r.id]: record.seconds }, null, 2)}\n`,
  );
  return record;
}
