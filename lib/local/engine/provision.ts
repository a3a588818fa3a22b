/**
 * Makes the pinned Pulumi engine available where the npm `pulumi` launcher cannot download it:
 * - the CLI and the Node.js language host in $PULUMI_HOME/versions/<version>/bin, where the launcher looks;
 * - the docker-build provider plugin at @pulumi/docker-build's version, installed as a plugin;
 * - BuildKit (buildkitd, buildctl) in the cache, for the local builder.
 *
 * Nothing is built that is already there: a working CLI of the right version (cached, on PATH, or
 * downloadable by the launcher) is used as it is, and every build is kept by version in the cache.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { userCacheDir } from "../../os/cache-dir";
import { PROJECT_ROOT } from "../../os/project-root";
import { binaryPath, buildRecipe, builtRecord } from "./go-build";
import { dockerBuildVersion, pulumiVersion, type Recipe, recipes } from "./recipes";

const PROJECT = PROJECT_ROOT;
/** A download attempt may not wait longer than this: offline it fails at once, a hostile network may stall. */
const DOWNLOAD_TIMEOUT_MS = 120_000;

export const pulumiHome = (): string => process.env.PULUMI_HOME ?? join(homedir(), ".pulumi");

export const cliDir = (version = pulumiVersion()): string => join(pulumiHome(), "versions", version, "bin");

export interface Engine {
  version: string;
  /** Directory holding `pulumi` and its language host: put it first on PATH. */
  cliDir: string;
  buildkitd?: string;
  buildctl?: string;
  /** How each part was obtained: cached, PATH, downloaded or built. */
  sources: Record<string, string>;
}

export interface ProvisionOptions {
  buildkit: boolean;
  /** Try the launcher's and the plugin installer's downloads before building (off in CI: no internet). */
  download: boolean;
  log: (line: string) => void;
}

/** Engine and plugin runs that must never reach for the internet to fetch a plugin. */
export const offlineEnv = (): NodeJS.ProcessEnv => ({
  PULUMI_HOME: pulumiHome(),
  PULUMI_SKIP_UPDATE_CHECK: "true",
  PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
});

function reports(bin: string, version: string): boolean {
  if (!existsSync(bin)) return false;
  const r = spawnSync(bin, ["version"], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, ...offlineEnv() },
  });
  return r.status === 0 && r.stdout.trim() === `v${version}`;
}

function onPath(name: string): string | undefined {
  const launcher = join(PROJECT, "node_modules", ".bin");
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir || dir === launcher) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Hard link where the file system allows it (no second copy of a 150 MB binary), else copy; then rename. */
function place(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const tmp = `${to}.partial-${process.pid}`;
  rmSync(tmp, { force: true });
  try {
    linkSync(from, tmp);
  } catch {
    copyFileSync(from, tmp);
  }
  chmodSync(tmp, 0o755);
  renameSync(tmp, to);
}

async function ensureBuilt(cache: string, r: Recipe, opts: ProvisionOptions): Promise<"cached" | "built"> {
  if (builtRecord(cache, r)) return "cached";
  if (r.note) opts.log(`engine: note: ${r.note}`);
  await buildRecipe(cache, r);
  return "built";
}

async function ensureCli(cache: string, all: Recipe[], opts: ProvisionOptions): Promise<string> {
  const version = pulumiVersion();
  const dir = cliDir(version);
  const cli = join(dir, "pulumi");
  const host = join(dir, "pulumi-language-nodejs");
  // The dynamic-provider plugin ships inside @pulumi/pulumi; the CLI's own archive carries it beside `pulumi`.
  const dynamic = join(PROJECT, "node_modules", "@pulumi", "pulumi", "pulumi-resource-pulumi-nodejs");
  const withDynamic = () =>
    existsSync(join(dir, "pulumi-resource-pulumi-nodejs")) ||
    place(dynamic, join(dir, "pulumi-resource-pulumi-nodejs"));

  if (reports(cli, version) && existsSync(host)) {
    withDynamic();
    return "cached";
  }
  const found = onPath("pulumi");
  if (found && reports(found, version)) {
    const foundHost = join(dirname(found), "pulumi-language-nodejs");
    if (existsSync(foundHost)) {
      place(found, cli);
      place(foundHost, host);
      withDynamic();
      return "PATH";
    }
  }
  if (opts.download) {
    opts.log(`engine: trying the npm launcher's download of pulumi v${version}`);
    const r = spawnSync(process.execPath, [join(PROJECT, "node_modules", "pulumi", "run.js"), "version"], {
      encoding: "utf8",
      timeout: DOWNLOAD_TIMEOUT_MS,
      env: { ...process.env, ...offlineEnv() },
    });
    if (r.status === 0 && reports(cli, version) && existsSync(host)) return "downloaded";
    opts.log(
      `engine: no download (${(r.stderr || r.error?.message || "").trim().split("\n").pop()}); building`,
    );
  }
  const [cliRecipe, hostRecipe] = [
    all.find((r) => r.id === "pulumi"),
    all.find((r) => r.id === "pulumi-language-nodejs"),
  ];
  if (!cliRecipe || !hostRecipe) throw new Error("engine recipes are missing the CLI or its language host");
  await ensureBuilt(cache, cliRecipe, opts);
  await ensureBuilt(cache, hostRecipe, opts);
  place(binaryPath(cache, cliRecipe, "pulumi"), cli);
  place(binaryPath(cache, hostRecipe, "pulumi-language-nodejs"), host);
  withDynamic();
  if (!reports(cli, version)) throw new Error(`the built CLI at ${cli} does not report v${version}`);
  return "built";
}

function pluginInstalled(name: string, version: string): boolean {
  return existsSync(join(pulumiHome(), "plugins", `resource-${name}-v${version}`, `pulumi-resource-${name}`));
}

async function ensureDockerBuild(
  cache: string,
  all: Recipe[],
  opts: ProvisionOptions,
  cli: string,
): Promise<string> {
  const version = dockerBuildVersion();
  if (pluginInstalled("docker-build", version)) return "cached";
  const env = { ...process.env, ...offlineEnv() };
  if (opts.download) {
    const r = spawnSync(cli, ["plugin", "install", "resource", "docker-build", version], {
      encoding: "utf8",
      timeout: DOWNLOAD_TIMEOUT_MS,
      env,
    });
    if (r.status === 0 && pluginInstalled("docker-build", version)) return "downloaded";
    opts.log(
      `engine: no docker-build ${version} download (${(r.stderr || r.error?.message || "").trim().split("\n").pop()}); building`,
    );
  }
  const recipe = all.find((r) => r.id === "docker-build");
  if (!recipe) throw new Error("engine recipes are missing docker-build");
  await ensureBuilt(cache, recipe, opts);
  const r = spawnSync(
    cli,
    [
      "plugin",
      "install",
      "resource",
      "docker-build",
      version,
      "--file",
      binaryPath(cache, recipe, "pulumi-resource-docker-build"),
    ],
    { encoding: "utf8", timeout: 300_000, env },
  );
  if (r.status !== 0 || !pluginInstalled("docker-build", version)) {
    throw new Error(
      `pulumi plugin install resource docker-build ${version} --file ... failed: ${(r.stderr || "").trim()}`,
    );
  }
  return "built";
}

export async function provisionEngine(opts: ProvisionOptions): Promise<Engine> {
  const cache = userCacheDir();
  const all = recipes();
  const version = pulumiVersion();
  const sources: Record<string, string> = {};
  sources[`pulumi v${version}`] = await ensureCli(cache, all, opts);
  sources[`docker-build ${dockerBuildVersion()}`] = await ensureDockerBuild(
    cache,
    all,
    opts,
    join(cliDir(version), "pulumi"),
  );
  const engine: Engine = { version, cliDir: cliDir(version), sources };
  if (opts.buildkit) {
    const recipe = all.find((r) => r.id === "buildkit");
    if (!recipe) throw new Error("engine recipes are missing buildkit");
    sources[`buildkit ${recipe.version}`] = await ensureBuilt(cache, recipe, opts);
    engine.buildkitd = binaryPath(cache, recipe, "buildkitd");
    engine.buildctl = binaryPath(cache, recipe, "buildctl");
  }
  return engine;
}
