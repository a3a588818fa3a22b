/**
 * The real-engine tier's world: a copy of the program in a temp directory (its own Pulumi.<stack>.yaml and
 * file state), its own registry on a free loopback port (or on an address the test gives), its own buildkitd
 * on a unix socket in that directory, and the engine `npm run engine` provisions. Nothing here is a stand-in: `pulumi up` runs the
 * real CLI, language host, docker-build and BuildKit.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ensureBuildkit, type LocalBuilder, stopBuildkit } from "../../lib/local/buildkit";
import { type Engine, provisionEngine } from "../../lib/local/engine/provision";
import { ensureRootImage } from "../../lib/local/root-image";
import { createSampleRepos } from "../../lib/local/sample-repos";
import { PROJECT, stackEnv } from "../../lib/local/stack";
import { type LocalRegistry, startRegistry } from "./oci-registry";

/** What the program needs to run: copied, so a test's config, manifests and staged trees stay its own. */
const PROGRAM = [
  "program.js",
  // The build (npm test makes it first): the copy runs the compiled program, as a checkout does.
  "dist",
  // What the build's stamp covers: without any of it the copy would count as stale and run under tsx.
  "cli",
  "tsconfig.build.json",
  "index.ts",
  "components",
  "lib",
  "Pulumi.yaml",
  "package.json",
  "tsconfig.json",
  "manifest.local.json",
  "sample-platform",
  "sample-templates",
];

export interface RealStack {
  dir: string;
  engine: Engine;
  registry: LocalRegistry;
  builder: LocalBuilder;
  rootImage: string;
  env: NodeJS.ProcessEnv;
  /** Runs the pinned CLI (through the npm launcher) in the program copy. */
  pulumi(args: string[], opts?: { env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<RunResult>;
  stop(): Promise<void>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    // A wedged engine must fail the test, not hang it.
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 600_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 137 : 1), stdout, stderr });
    });
  });
}

/** Why this tier cannot run here, or undefined. It needs root on Linux (buildkitd with runc), Go, git. */
export function realTierUnavailable(): string | undefined {
  if (process.platform !== "linux") return "buildkitd needs Linux";
  if (process.getuid?.() !== 0) return "buildkitd runs as root here (no rootless setup)";
  return undefined;
}

export interface RealStackOptions {
  /**
   * The address the registry listens on (default 127.0.0.1): the host side of a test's own veth, so a builder
   * in another network namespace pushes to the same image names the engine host sees. The local buildkitd
   * then pushes the root image there over plain HTTP.
   */
  registryBind?: string;
}

export async function startRealStack(stack: string, opts: RealStackOptions = {}): Promise<RealStack> {
  const engine = await provisionEngine({
    buildkit: true,
    download: process.env.CI !== "true",
    log: console.error,
  });
  if (!engine.buildkitd || !engine.buildctl) throw new Error("the engine has no buildkit");
  const dir = mkdtempSync(join(tmpdir(), "molecule-real-"));
  for (const entry of PROGRAM)
    cpSync(join(PROJECT, entry), join(dir, entry), {
      recursive: true,
      // What an earlier local run staged is not the program: the test stages its own.
      filter: (src) => !src.endsWith("/.tenant-bundle-deps"),
    });
  symlinkSync(join(PROJECT, "node_modules"), join(dir, "node_modules"));
  const registry = await startRegistry(opts.registryBind);
  const bk = { buildkitd: engine.buildkitd, buildctl: engine.buildctl };
  let builder: LocalBuilder;
  let root: Awaited<ReturnType<typeof ensureRootImage>>;
  try {
    builder = await ensureBuildkit(join(dir, "buildkit"), bk, {
      plainHttpRegistries: opts.registryBind ? [registry.host] : [],
    });
    root = await ensureRootImage(registry.host, join(dir, "root-image"), engine.buildctl, builder.endpoint);
  } catch (err) {
    // A failed start (buildkitd without runc, say) must not leave the registry and the copy behind.
    await stopBuildkit(join(dir, "buildkit"), bk.buildkitd);
    await registry.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  createSampleRepos(join(dir, "git"));
  mkdirSync(join(dir, "state"));
  const env = {
    ...stackEnv(engine, builder),
    PULUMI_BACKEND_URL: `file://${join(dir, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: "molecule-images-test",
    GITHUB_SHA: "",
  };
  const pulumi: RealStack["pulumi"] = (args, opts = {}) =>
    run(join(PROJECT, "node_modules", ".bin", "pulumi"), args, {
      cwd: dir,
      env: { ...env, ...opts.env },
      timeoutMs: opts.timeoutMs,
    });
  const init = await pulumi(["stack", "init", stack]);
  if (init.code !== 0) throw new Error(`pulumi stack init ${stack}: ${init.stderr}`);
  return {
    dir,
    engine,
    registry,
    builder,
    rootImage: root.ref,
    env,
    pulumi,
    async stop() {
      await stopBuildkit(join(dir, "buildkit"), bk.buildkitd);
      await registry.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pulumi.<stack>.yaml for the program copy: the local stack's config, pointed at this world. */
export function writeStackConfig(s: RealStack, stack: string, config: Record<string, unknown>): void {
  writeFileSync(
    join(s.dir, `Pulumi.${stack}.yaml`),
    stringify({
      config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`molecule-images:${k}`, v])),
    }),
  );
}

/**
 * Makes the program copy's sample platform a git checkout with one commit at a fixed time, so the stack reads
 * the commit's time (SOURCE_DATE_EPOCH, rewrite-timestamp) as it does from a real checkout. Idempotent.
 */
export function commitSource(s: RealStack): { sha: string; date: string } {
  const src = join(s.dir, "sample-platform");
  const date = "2026-11-30T12:00:00Z";
  const git = (args: string[]) =>
    execFileSync("git", args, {
      cwd: src,
      encoding: "utf8",
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "e2e",
        GIT_AUTHOR_EMAIL: "e2e@example.test",
        GIT_COMMITTER_NAME: "e2e",
        GIT_COMMITTER_EMAIL: "e2e@example.test",
        GIT_AUTHOR_DATE: date,
        GIT_COMMITTER_DATE: date,
      },
    }).trim();
  if (!existsSync(join(src, ".git"))) {
    writeFileSync(join(src, ".gitignore"), ".tenant-bundle-deps/\n");
    git(["init", "-q"]);
    git(["add", "-A"]);
    git(["commit", "-q", "-m", "sample platform"]);
  }
  return { sha: git(["rev-parse", "HEAD"]), date };
}

/**
 * The local stack's config (Pulumi.local.yaml, keys without the project prefix), pointed at this world: its
 * registry, its sample git repos, its root image, the given commit. `overrides` win.
 */
export function localStackConfig(s: RealStack, gitSha: string, overrides: Record<string, unknown> = {}) {
  const local = parse(readFileSync(join(PROJECT, "Pulumi.local.yaml"), "utf8")).config as Record<
    string,
    unknown
  >;
  const base = Object.fromEntries(
    Object.entries(local).map(([k, v]) => [k.replace(/^molecule-images:/, ""), v]),
  );
  return {
    ...base,
    registry: { type: "oci", address: s.registry.host },
    gitBaseUrl: `file://${join(s.dir, "git")}`,
    gitSha,
    images: (base.images as Array<Record<string, unknown>>).map((image) =>
      image.name === "platform"
        ? { ...image, buildArgs: { ...(image.buildArgs as object), ROOT_IMAGE: s.rootImage } }
        : image,
    ),
    ...overrides,
  };
}

/** The digest a tag of this world's registry points at, or undefined when it does not exist. */
export async function tagDigest(s: RealStack, repo: string, tag: string): Promise<string | undefined> {
  const res = await fetch(`http://${s.registry.host}/v2/${repo}/manifests/${tag}`, {
    method: "HEAD",
    headers: {
      Accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json",
    },
  });
  return res.status === 200 ? (res.headers.get("docker-content-digest") ?? undefined) : undefined;
}

/**
 * CNCF distribution 2.8 can fail one of two concurrent uploads of the same blob to one repository
 * ("provided digest did not match uploaded content"): BuildKit pushes the image and its registry cache (same
 * layers, same repository) at once. It is the registry's race, not the program's, and a rerun succeeds from
 * the state the failed run left; so an up that fails with exactly that message is run once more, and says so.
 */
const REGISTRY_UPLOAD_RACE = /provided digest did not match uploaded content/;

type Pulumi = (args: string[]) => Promise<RunResult>;

/** `pulumi up` without a preview, run once more on the registry's upload race only. */
export async function upPastRegistryRace(
  pulumi: Pulumi,
  stack: string,
  extra: string[] = [],
): Promise<RunResult> {
  const args = ["up", "--stack", stack, "--yes", "--skip-preview", ...extra];
  const first = await pulumi(args);
  if (first.code === 0 || !REGISTRY_UPLOAD_RACE.test(first.stdout + first.stderr)) return first;
  console.warn(`${stack}: pulumi up hit the registry's concurrent-upload race; running it once more`);
  return pulumi(args);
}

/** The stack's outputs, as `pulumi stack output --json` prints them. */
export async function stackOutputs(pulumi: Pulumi, stack: string): Promise<Record<string, unknown>> {
  const r = await pulumi(["stack", "output", "--json", "--stack", stack]);
  if (r.code !== 0) throw new Error(`pulumi stack output failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
