/**
 * The local stack's OCI registry: CNCF distribution (Debian's docker-registry) on loopback only, with its
 * storage in the project's .local/ directory. It keeps running after `npm run local` so the images stay
 * pullable; `npm run local -- stop-registry` stops it.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

async function answers(address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
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
  mkdirSync(join(dir, "data"), { recursive: true });
  // Not Debian's default config: that one listens on every interface and turns on htpasswd auth.
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  delete:\n    enabled: true\nhttp:\n  addr: ${address}\n`,
  );
  const log = openSync(join(dir, "registry.log"), "a");
  const child = spawn(REGISTRY_BINARY, ["serve", config], { detached: true, stdio: ["ignore", log, log] });
  child.unref();
  writeFileSync(join(dir, "pid"), String(child.pid));
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
    if (await answers(address)) return "started";
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the registry did not come up at ${address}; see ${join(dir, "registry.log")}`);
}

/** Stops the registry this project started (by the pid it recorded), nothing else. */
export function stopLocalRegistry(dir: string): boolean {
  const pidFile = join(dir, "pid");
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, "utf8"));
  rmSync(pidFile);
  try {
    process.kill(pid, "SIGTERM");
    return true;
  } catch {
    return false;
  }
}
