/**
 * Reading and running images straight from a loopback registry: the manifest and config by digest, the
 * layers unpacked into a root file system in order, and the entrypoint run with runc (what buildkitd itself
 * runs RUN steps with). No Docker engine is needed to check what a container would see.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MANIFEST_ACCEPT } from "../../lib/drift/oci";

export interface ImageManifest {
  mediaType?: string;
  config: { digest: string };
  layers: Array<{ digest: string; mediaType: string }>;
  manifests?: Array<{ digest: string; platform?: { architecture: string; os: string } }>;
}

export interface ImageConfigBlob {
  created?: string;
  config: {
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
    User?: string;
    Labels?: Record<string, string>;
  };
}

async function get(url: string, accept?: string): Promise<Response> {
  const res = await fetch(url, {
    headers: accept ? { Accept: accept } : {},
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res;
}

export function parseRef(ref: string): { host: string; repo: string; reference: string } {
  const m = /^([^/]+)\/(.+?)(?:@(sha256:[0-9a-f]{64})|:([^:@/]+))?$/.exec(ref);
  if (!m?.[1] || !m[2]) throw new Error(`not an image reference: ${ref}`);
  return { host: m[1], repo: m[2], reference: m[3] ?? m[4] ?? "latest" };
}

/** `host/repo@sha256:...` or `host/repo:tag` -> the image manifest (an index resolves to linux/amd64). */
export async function manifestOf(ref: string): Promise<ImageManifest> {
  const { host, repo, reference } = parseRef(ref);
  const manifest = (await (
    await get(`http://${host}/v2/${repo}/manifests/${reference}`, MANIFEST_ACCEPT)
  ).json()) as ImageManifest;
  if (!manifest.manifests) return manifest;
  const amd64 = manifest.manifests.find((d) => d.platform?.architecture === "amd64") ?? manifest.manifests[0];
  if (!amd64) throw new Error(`${ref}: an empty index`);
  return manifestOf(`${host}/${repo}@${amd64.digest}`);
}

export async function blob(ref: string, digest: string): Promise<Buffer> {
  const { host, repo } = parseRef(ref);
  return Buffer.from(await (await get(`http://${host}/v2/${repo}/blobs/${digest}`)).arrayBuffer());
}

export async function configOf(ref: string): Promise<ImageConfigBlob> {
  const manifest = await manifestOf(ref);
  return JSON.parse((await blob(ref, manifest.config.digest)).toString("utf8")) as ImageConfigBlob;
}

/** The image's layers unpacked in order into `<dir>/rootfs` (these images delete nothing: no whiteouts). */
export async function unpack(ref: string, dir = mkdtempSync(join(tmpdir(), "oci-image-"))): Promise<string> {
  const rootfs = join(dir, "rootfs");
  mkdirSync(rootfs, { recursive: true });
  const manifest = await manifestOf(ref);
  for (const layer of manifest.layers) {
    const file = join(dir, "layer.tar");
    writeFileSync(file, await blob(ref, layer.digest));
    execFileSync("tar", ["-xf", file, "-C", rootfs, "--no-same-owner"]);
  }
  return rootfs;
}

export interface RunOutcome {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the image's entrypoint (and `args`) with runc in a bundle around `rootfs`, with host directories
 * bind-mounted, no network and a read-only root: what the container sees at start.
 */
export function runImage(
  rootfs: string,
  config: ImageConfigBlob,
  opts: { args?: string[]; mounts?: Array<{ source: string; destination: string }> } = {},
): RunOutcome {
  const bundle = join(rootfs, "..");
  const spec = {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...(config.config.Entrypoint ?? []), ...(opts.args ?? config.config.Cmd ?? [])],
      env: config.config.Env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      cwd: "/",
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      ...(opts.mounts ?? []).map((m) => ({ ...m, type: "bind", options: ["rbind", "rw"] })),
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }],
    },
  };
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
  const id = `molecule-test-${process.pid}-${Date.now()}`;
  const r = spawnSync("runc", ["run", "--bundle", bundle, id], { encoding: "utf8", timeout: 60_000 });
  spawnSync("runc", ["delete", "--force", id], { stdio: "ignore" });
  return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
