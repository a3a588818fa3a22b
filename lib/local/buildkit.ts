/**
 * The local stack's builder: a buildkitd of our own (built from Go modules by `npm run engine`), run as root
 * with runc and listening only on a unix socket under .local/, registered as a buildx `remote` builder.
 * docker-build accepts only the docker-container, kubernetes and remote drivers, and the docker-container one
 * pulls moby/buildkit from Docker Hub on first use, which these machines cannot reach.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Daemon, runningPid, startDaemon, stopDaemon, waitReady } from "./daemon";

export const LOCAL_BUILDER = "molecule-local";

export interface LocalBuilder {
  /** The buildx builder name, as the stack's `builder` config gives it. */
  name: string;
  /** Where the buildx builder store lives: pass it to docker-build as BUILDX_CONFIG. */
  buildxConfig: string;
  endpoint: string;
}

function daemon(dir: string, buildkitd: string): Daemon {
  return {
    name: "buildkitd",
    binary: buildkitd,
    args: [
      "--addr",
      `unix://${join(dir, "buildkitd.sock")}`,
      "--root",
      join(dir, "root"),
      "--config",
      join(dir, "buildkitd.toml"),
      // Builds reach the registry on loopback: RUN steps share the host's network namespace.
      "--oci-worker-net",
      "host",
      "--containerd-worker",
      "false",
    ],
    pidFile: join(dir, "buildkitd.pid"),
    logFile: join(dir, "buildkitd.log"),
  };
}

export function buildctlAnswers(buildctl: string, endpoint: string): boolean {
  const r = spawnSync(buildctl, ["--addr", endpoint, "--timeout", "2", "debug", "workers"], {
    encoding: "utf8",
    timeout: 10_000,
  });
  return r.status === 0;
}

/** A buildx builder store entry (buildx's own NodeGroup format): one node of `driver` at `endpoint`. */
export function registerBuilder(
  buildxConfig: string,
  name: string,
  endpoint: string,
  driver: "remote" | "docker-container" = "remote",
  driverOpts: Record<string, string> = {},
): void {
  mkdirSync(join(buildxConfig, "instances"), { recursive: true });
  const group = {
    Name: name,
    Driver: driver,
    Nodes: [
      {
        Name: `${name}0`,
        Endpoint: endpoint,
        Platforms: null,
        DriverOpts: driverOpts,
        Flags: null,
        Files: null,
      },
    ],
    Dynamic: false,
  };
  writeFileSync(join(buildxConfig, "instances", name), `${JSON.stringify(group)}\n`);
}

/**
 * buildkitd's config: bounded garbage collection, and plain HTTP for the registries named. BuildKit speaks
 * HTTP unasked only to localhost/127.0.0.1/::1; any other registry without TLS needs `http = true`.
 */
export function buildkitdToml(plainHttpRegistries: string[] = []): string {
  return [
    '[worker.oci]\n  gc = true\n  gckeepstorage = "4GB"\n',
    ...plainHttpRegistries.map((host) => `[registry.${JSON.stringify(host)}]\n  http = true\n`),
  ].join("");
}

export async function ensureBuildkit(
  dir: string,
  bin: { buildkitd: string; buildctl: string },
  opts: { plainHttpRegistries?: string[] } = {},
): Promise<LocalBuilder & { state: "running" | "started" }> {
  const d = daemon(dir, bin.buildkitd);
  const endpoint = `unix://${join(dir, "buildkitd.sock")}`;
  const builder = { name: LOCAL_BUILDER, buildxConfig: join(dir, "..", "buildx"), endpoint };
  registerBuilder(builder.buildxConfig, builder.name, endpoint);
  if (runningPid(d) !== undefined && buildctlAnswers(bin.buildctl, endpoint))
    return { ...builder, state: "running" };
  await stopDaemon(d);
  mkdirSync(join(dir, "root"), { recursive: true });
  // Garbage collection keeps the cache bounded; the registry cache survives a prune.
  writeFileSync(join(dir, "buildkitd.toml"), buildkitdToml(opts.plainHttpRegistries));
  startDaemon(d);
  await waitReady(d, async () => buildctlAnswers(bin.buildctl, endpoint), 30_000);
  return { ...builder, state: "started" };
}

export const stopBuildkit = (dir: string, buildkitd: string): Promise<boolean> =>
  stopDaemon(daemon(dir, buildkitd));
