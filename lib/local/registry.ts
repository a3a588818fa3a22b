/**
 * The local stack's OCI registry: CNCF distribution (Debian's docker-registry) on loopback only, with its
 * storage in the project's .local/ directory. It keeps running after `npm run local` so the images stay
 * pullable; `npm run local -- stop` stops it with everything else the local stack started.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Daemon, runningPid, startDaemon, stopDaemon, waitReady } from "./daemon";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

async function answers(address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

function daemon(dir: string): Daemon {
  return {
    name: "docker-registry",
    binary: REGISTRY_BINARY,
    args: ["serve", join(dir, "config.yml")],
    pidFile: join(dir, "pid"),
    logFile: join(dir, "registry.log"),
  };
}

/** Starts the registry unless one already answers at `address` (which must be on loopback). */
export async function ensureLocalRegistry(dir: string, address: string): Promise<"running" | "started"> {
  if (!/^127\.\d+\.\d+\.\d+:\d+$/.test(address))
    throw new Error(`${address}: the local registry must be on 127.0.0.0/8`);
  if (await answers(address)) return "running";
  if (!existsSync(REGISTRY_BINARY)) {
    throw new Error(
      `no registry answers at ${address} and ${REGISTRY_BINARY} is missing: apt-get install -y docker-registry`,
    );
  }
  const d = daemon(dir);
  if (runningPid(d) !== undefined) await stopDaemon(d);
  mkdirSync(join(dir, "data"), { recursive: true });
  // Not Debian's default config: that one listens on every interface and turns on htpasswd auth.
  writeFileSync(
    join(dir, "config.yml"),
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  delete:\n    enabled: true\nhttp:\n  addr: ${address}\n`,
  );
  startDaemon(d);
  await waitReady(d, () => answers(address), 15_000);
  return "started";
}

/** Stops the registry this project started (by the pid it recorded), nothing else. */
export const stopLocalRegistry = (dir: string): Promise<boolean> => stopDaemon(daemon(dir));
