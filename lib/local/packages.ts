/**
 * The Debian packages the local stack runs: a registry, runc for buildkitd, and busybox for the offline root
 * image. As root on Debian a missing one is installed (and said so); elsewhere the exact command is printed.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export interface Requirement {
  pkg: string;
  binary: string;
  why: string;
}

export const LOCAL_PACKAGES: Requirement[] = [
  { pkg: "docker-registry", binary: "/usr/bin/docker-registry", why: "the local OCI registry" },
  { pkg: "runc", binary: "/usr/sbin/runc", why: "buildkitd's OCI worker" },
  { pkg: "busybox-static", binary: "/bin/busybox", why: "the offline root image" },
];

const isRoot = (): boolean => process.getuid?.() === 0;
const isDebian = (): boolean => existsSync("/etc/debian_version") && existsSync("/usr/bin/apt-get");

export function ensurePackages(required: Requirement[], log: (line: string) => void): void {
  const missing = required.filter((r) => !existsSync(r.binary));
  if (missing.length === 0) return;
  const names = missing.map((r) => r.pkg);
  const command = `apt-get install -y ${names.join(" ")}`;
  if (!isRoot() || !isDebian()) {
    throw new Error(
      `missing ${missing.map((r) => `${r.pkg} (${r.why})`).join(", ")}: install with\n  sudo ${command}`,
    );
  }
  log(`local: installing ${missing.map((r) => `${r.pkg} (${r.why})`).join(", ")}: ${command}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [
    ["update", "-qq"],
    ["install", "-y", "-qq", ...names],
  ]) {
    const r = spawnSync("apt-get", args, { stdio: ["ignore", "ignore", "inherit"], env, timeout: 600_000 });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.status})`);
  }
  // Debian's docker-registry package starts its own service: every interface, htpasswd. Ours is loopback-only.
  if (names.includes("docker-registry")) {
    spawnSync("systemctl", ["stop", "docker-registry"], { stdio: "ignore", timeout: 30_000 });
  }
}
