/**
 * npm run local [-- up | preview | destroy | outputs | drift | stop-registry]   (default: up)
 *
 * The whole pipeline on this machine: a registry on 127.0.0.1:5000, the sample template repos, and
 * `pulumi <command> --stack local` with a file state backend in .pulumi-state/ (no Pulumi Cloud login).
 * The Pulumi CLI is the npm `pulumi` package pinned in devDependencies.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { backendFor } from "../lib/drift/backends";
import { runDriftCli } from "../lib/drift/cli";
import { ensureLocalRegistry, stopLocalRegistry } from "../lib/local-registry";
import { createSampleRepos } from "../lib/sample-repos";

const PROJECT = resolve(__dirname, "..");
const LOCAL = join(PROJECT, ".local");
const STACK = "local";
const REGISTRY = "127.0.0.1:5000";
const PULUMI = join(PROJECT, "node_modules", ".bin", "pulumi");

// Local only: a file backend in the project, and a passphrase that protects nothing but this laptop's state.
const env = {
  ...process.env,
  PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? `file://${join(PROJECT, ".pulumi-state")}`,
  PULUMI_CONFIG_PASSPHRASE: process.env.PULUMI_CONFIG_PASSPHRASE ?? "molecule-images-local",
  PULUMI_SKIP_UPDATE_CHECK: "true",
};

function pulumi(args: string[], capture = false): { code: number; stdout: string } {
  const result = spawnSync(PULUMI, args, {
    cwd: PROJECT,
    env,
    stdio: capture ? ["ignore", "pipe", "inherit"] : "inherit",
    encoding: "utf8",
  });
  if (result.error) throw new Error(`cannot run the Pulumi CLI (${PULUMI}): ${result.error.message}`);
  return { code: result.status ?? 1, stdout: result.stdout ?? "" };
}

async function main(): Promise<number> {
  const command = process.argv[2] ?? "up";
  if (command === "stop-registry") {
    console.error(
      stopLocalRegistry(join(LOCAL, "registry")) ? "registry stopped" : "no registry started by this project",
    );
    return 0;
  }
  if (command === "drift") {
    // The drift check reads `pulumi stack output --stack local` with the same backend.
    Object.assign(process.env, env, { PATH: `${join(PROJECT, "node_modules", ".bin")}:${process.env.PATH}` });
    return runDriftCli(["--stack", STACK, ...process.argv.slice(3)], {
      stdout: process.stdout,
      stderr: process.stderr,
      backendFor,
    });
  }
  if (!["up", "preview", "destroy", "outputs"].includes(command)) {
    console.error(
      `unknown command ${command}: expected up, preview, destroy, outputs, drift or stop-registry`,
    );
    return 2;
  }
  console.error(`registry ${REGISTRY}: ${await ensureLocalRegistry(join(LOCAL, "registry"), REGISTRY)}`);
  const repos = createSampleRepos(join(LOCAL, "git"));
  console.error(
    `sample template repos in .local/git: ${repos.map((r) => `${r.name}@${r.ref.slice(0, 7)}`).join(", ")}`,
  );
  const version = spawnSync(PULUMI, ["version"], { env, encoding: "utf8", timeout: 120_000 });
  if (version.status !== 0) {
    console.error(
      `local: the Pulumi CLI is not available. The npm "pulumi" package (devDependencies) downloads it on first use, which needs internet access or a pulumi binary on PATH:\n${(version.stderr || version.error?.message || "").trim()}`,
    );
    return 1;
  }
  mkdirSync(join(PROJECT, ".pulumi-state"), { recursive: true });
  if (pulumi(["stack", "select", STACK], true).code !== 0 && pulumi(["stack", "init", STACK]).code !== 0)
    return 1;
  const extra = process.argv.slice(3);
  switch (command) {
    case "up":
      return pulumi(["up", "--stack", STACK, "--yes", ...extra]).code;
    case "preview":
      return pulumi(["preview", "--stack", STACK, ...extra]).code;
    case "destroy":
      return pulumi(["destroy", "--stack", STACK, "--yes", ...extra]).code;
    default:
      return pulumi(["stack", "output", "--json", "--stack", STACK, ...extra]).code;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`local: ${err.message}`);
    process.exitCode = 1;
  },
);
