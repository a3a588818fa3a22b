/**
 * The local stack on the real engine: provisions what it runs (packages, engine, registry, builder, root
 * image, sample template repos), then runs `pulumi <command> --stack local` through the npm launcher with a
 * file state backend. Every service is loopback-only or a unix socket, and started here only if absent.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { PROJECT_ROOT } from "../os/project-root";
import { ensureBuildkit, type LocalBuilder, registerBuilder, stopBuildkit } from "./buildkit";
import { type Engine, offlineEnv, provisionEngine } from "./engine/provision";
import { ensurePackages, LOCAL_PACKAGES } from "./packages";
import { ensureLocalRegistry, stopLocalRegistry } from "./registry";
import { ensureRootImage } from "./root-image";
import { createSampleRepos } from "./sample-repos";

export const PROJECT = PROJECT_ROOT;
export const LOCAL = join(PROJECT, ".local");
export const STACK = "local";
export const REGISTRY = "127.0.0.1:5000";
const LAUNCHER = join(PROJECT, "node_modules", ".bin", "pulumi");

export interface LocalContext {
  engine: Engine;
  builder: LocalBuilder;
  env: NodeJS.ProcessEnv;
}

/** buildkitd needs root, Linux and runc; anywhere else docker-build's own docker-container builder runs. */
export const ownBuildkit = (): boolean => process.platform === "linux" && process.getuid?.() === 0;

/** The environment every Pulumi run of the local stack gets. */
export function stackEnv(engine: Engine, builder: LocalBuilder): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...offlineEnv(),
    PATH: `${engine.cliDir}${delimiter}${process.env.PATH ?? ""}`,
    // Local only: a file backend in the project, and a passphrase that protects nothing but this machine's state.
    PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? `file://${join(PROJECT, ".pulumi-state")}`,
    PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "molecule-images-local",
    BUILDX_CONFIG: builder.buildxConfig,
  };
}

export async function provisionLocal(log: (line: string) => void): Promise<LocalContext> {
  const own = ownBuildkit();
  ensurePackages(
    LOCAL_PACKAGES.filter((p) => own || p.pkg !== "runc"),
    log,
  );
  const engine = await provisionEngine({ buildkit: own, download: true, log });
  log(`local: registry ${REGISTRY}: ${await ensureLocalRegistry(join(LOCAL, "registry"), REGISTRY)}`);
  let builder: LocalBuilder;
  if (own && engine.buildkitd && engine.buildctl) {
    const bk = await ensureBuildkit(join(LOCAL, "buildkit"), {
      buildkitd: engine.buildkitd,
      buildctl: engine.buildctl,
    });
    log(`local: buildkitd ${bk.endpoint}: ${bk.state} (buildx remote builder "${bk.name}")`);
    const root = await ensureRootImage(REGISTRY, join(LOCAL, "root-image"), engine.buildctl, bk.endpoint);
    log(`local: root image ${root.ref}: ${root.state}`);
    builder = bk;
  } else {
    builder = laptopBuilder();
    log(`local: builder "${builder.name}": docker-container (docker-build boots it on first use)`);
  }
  const repos = createSampleRepos(join(LOCAL, "git"));
  log(
    `local: sample template repos in .local/git: ${repos.map((r) => `${r.name}@${r.ref.slice(0, 7)}`).join(", ")}`,
  );
  return { engine, builder, env: stackEnv(engine, builder) };
}

/**
 * On a laptop with Docker and internet: a docker-container builder under the same name, on the host network
 * so it reaches the registry on 127.0.0.1. Its root image comes from Docker Hub through the local registry.
 */
function laptopBuilder(): LocalBuilder {
  const buildxConfig = join(LOCAL, "buildx");
  registerBuilder(buildxConfig, "molecule-local", "default", "docker-container", { network: "host" });
  const docker = (args: string[]) => spawnSync("docker", args, { stdio: "inherit", timeout: 600_000 });
  const ref = `${REGISTRY}/molecule-local/root:busybox`;
  for (const args of [
    ["pull", "busybox:1.36"],
    ["tag", "busybox:1.36", ref],
    ["push", ref],
  ]) {
    if (docker(args).status !== 0)
      throw new Error(`docker ${args.join(" ")} failed: the laptop path needs Docker`);
  }
  return { name: "molecule-local", buildxConfig, endpoint: "default" };
}

export function pulumi(
  ctx: { env: NodeJS.ProcessEnv },
  args: string[],
  opts: { capture?: boolean; cwd?: string } = {},
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(LAUNCHER, args, {
      cwd: opts.cwd ?? PROJECT,
      env: ctx.env,
      stdio: ["ignore", opts.capture ? "pipe" : "inherit", "inherit"],
    });
    let stdout = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.on("error", (err) => reject(new Error(`cannot run the Pulumi CLI (${LAUNCHER}): ${err.message}`)));
    child.on("exit", (code, signal) => resolve({ code: code ?? (signal ? 130 : 1), stdout }));
  });
}

export async function selectStack(
  ctx: { env: NodeJS.ProcessEnv },
  stack = STACK,
  cwd = PROJECT,
): Promise<void> {
  mkdirSync(join(cwd, ".pulumi-state"), { recursive: true });
  if ((await pulumi(ctx, ["stack", "select", stack], { capture: true, cwd })).code === 0) return;
  if ((await pulumi(ctx, ["stack", "init", stack], { cwd })).code !== 0)
    throw new Error(`cannot create stack ${stack}`);
}

/** Stops what `npm run local` started: buildkitd and the registry, each by the pid it recorded. */
export async function stopLocal(log: (line: string) => void, buildkitd: string | undefined): Promise<void> {
  const bk =
    buildkitd && existsSync(buildkitd) ? await stopBuildkit(join(LOCAL, "buildkit"), buildkitd) : false;
  log(bk ? "local: buildkitd stopped" : "local: no buildkitd of this project was running");
  const reg = await stopLocalRegistry(join(LOCAL, "registry"));
  log(reg ? "local: registry stopped" : "local: no registry of this project was running");
}
