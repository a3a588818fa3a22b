/**
 * The sample base image's root: buildkitd cannot see a Docker engine's image store and Docker Hub cannot be
 * reached, so the root comes from the local registry. Offline it is built here from Debian's busybox-static
 * (FROM scratch, one static binary and its applet links) and pushed once; later runs find it there.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MANIFEST_ACCEPT } from "../drift/oci";

export const BUSYBOX = "/bin/busybox";
export const ROOT_REPOSITORY = "molecule-local/root";
export const ROOT_TAG = "busybox";

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
`;

async function present(registry: string, ref: string): Promise<boolean> {
  const res = await fetch(`http://${registry}/v2/${ROOT_REPOSITORY}/manifests/${ref}`, {
    method: "HEAD",
    headers: { Accept: MANIFEST_ACCEPT },
    signal: AbortSignal.timeout(5000),
  });
  return res.status === 200;
}

/** `<registry>/molecule-local/root:busybox`, pushed if the registry lacks it. */
export async function ensureRootImage(
  registry: string,
  dir: string,
  buildctl: string,
  endpoint: string,
): Promise<{ ref: string; state: "present" | "pushed" }> {
  const ref = `${registry}/${ROOT_REPOSITORY}:${ROOT_TAG}`;
  if (await present(registry, ROOT_TAG)) return { ref, state: "present" };
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: apt-get install -y busybox-static`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(BUSYBOX, join(dir, "busybox"));
  writeFileSync(join(dir, "Dockerfile"), DOCKERFILE);
  // A fixed epoch and rewritten timestamps: the same busybox gives the same root digest on every machine.
  const r = spawnSync(
    buildctl,
    [
      "--addr",
      endpoint,
      "build",
      "--frontend",
      "dockerfile.v0",
      "--local",
      `context=${dir}`,
      "--local",
      `dockerfile=${dir}`,
      "--opt",
      "build-arg:SOURCE_DATE_EPOCH=0",
      "--output",
      `type=image,name=${ref},push=true,rewrite-timestamp=true,oci-mediatypes=true`,
    ],
    { encoding: "utf8", timeout: 300_000 },
  );
  if (r.status !== 0) throw new Error(`building the busybox root image failed:\n${(r.stderr || "").trim()}`);
  return { ref, state: "pushed" };
}
