// The Docker tier's own check: a real dockerd (loopback-only), the offline busybox root image, BuildKit
// builds with build args and labels, pushes to a real loopback registry, and a second image built
// FROM <registry>/<repo>@<digest> of the first: the chain the stack's docker-build images form.
// Skips (saying why) only outside CI; in CI a missing engine fails the run.

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AGENT_UID,
  buildImage,
  type DockerEngine,
  dockerAvailable,
  ensureDocker,
  imageLayers,
  importRootImage,
  mustRunDocker,
  pushImage,
  removeImages,
  runContainer,
} from "./support/docker-engine";
import { type LocalRegistry, startRegistry } from "./support/oci-registry";

const availability = dockerAvailable();
const skip = !availability.ok && !mustRunDocker();
if (skip) console.warn(`[docker-engine.test] skipped: ${availability.reason}`);
const title = skip
  ? `docker engine tier (skipped: ${availability.reason})`
  : "docker engine tier: BuildKit builds, loopback registry, digest-pinned FROM";

describe.skipIf(skip)(title, () => {
  let engine: DockerEngine | undefined;
  let registry: LocalRegistry | undefined;
  let work: string;
  let rootImage: string;
  const timings: Record<string, number> = {};
  const created: string[] = [];

  async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      timings[label] = Math.round(performance.now() - t0);
    }
  }

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), "docker-engine-test-"));
    engine = await timed("engine start", () => ensureDocker());
    registry = await timed("registry start", () => startRegistry());
    rootImage = await timed("root import", () => importRootImage(need(engine)));
  }, 180_000);

  afterAll(async () => {
    console.info(
      `[docker-engine.test] ${engine?.origin ?? "no"} engine; timings (ms): ${JSON.stringify(timings)}`,
    );
    // The tags name this run's registry port: on a daemon that outlives the run they are litter.
    if (engine) await removeImages(engine, created);
    await registry?.stop();
    await engine?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("imports a root image with the applets the sample scripts use and a non-root agent user", async () => {
    const e = need(engine);
    // Importing again is a no-op: the recipe label matches.
    const again = await timed("root import (present)", () => importRootImage(e));
    expect(again).toBe(rootImage);

    const script =
      "for c in sh cp mkdir find dirname echo cat test [; do command -v $c >/dev/null || echo missing $c; done; " +
      'id -un; test -d /tmp && [ -w /tmp ] && echo tmp-ok; echo "$PATH"';
    const asRoot = await runContainer(e, rootImage, { args: ["sh", "-c", script] });
    expect(asRoot.stderr).toBe("");
    expect(asRoot.stdout.split("\n")).toEqual([
      "root",
      "tmp-ok",
      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "",
    ]);
    expect(asRoot.code).toBe(0);

    const asAgent = await runContainer(e, rootImage, {
      user: String(AGENT_UID),
      args: ["sh", "-c", 'id -un; echo "$HOME"; touch /tmp/x && echo tmp-writable'],
    });
    expect(asAgent).toMatchObject({ code: 0, stdout: "agent\n/home/agent\ntmp-writable\n" });
  });

  it("builds with build args and labels, pushes, and chains a second image FROM <registry>/<repo>@<digest>", async () => {
    const e = need(engine);
    const reg = need(registry);

    // The base: mirrors sample-platform's Dockerfile (root image as an argument, COPY --chmod, no
    // `# syntax=` line), plus a RUN that proves build args reach the build and the root image's shell runs.
    const baseCtx = path.join(work, "base");
    await mkdir(baseCtx, { recursive: true });
    await writeFile(
      path.join(baseCtx, "Dockerfile"),
      [
        "ARG ROOT_IMAGE",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a JS template
        "FROM ${ROOT_IMAGE}",
        "ARG GREETING",
        'RUN echo "$GREETING" > /greeting.txt',
        "COPY --chmod=0755 hello.sh /hello.sh",
        'ENTRYPOINT ["/hello.sh"]',
        "",
      ].join("\n"),
    );
    // 0644 on purpose: only COPY --chmod can make it executable in the image.
    await writeFile(path.join(baseCtx, "hello.sh"), '#!/bin/sh\necho "hello from $(id -un): $*"\n', {
      mode: 0o644,
    });
    const baseTag = `${reg.host}/molecule/base:t1`;
    created.push(baseTag);
    await timed("build base", () =>
      buildImage(e, {
        context: baseCtx,
        buildArgs: { ROOT_IMAGE: rootImage, GREETING: "hi there" },
        labels: { "org.opencontainers.image.revision": "abc123", "molecule.test": "base" },
        tags: [baseTag],
        network: "host",
      }),
    );
    const labels = await e.docker(["image", "inspect", "--format", "{{json .Config.Labels}}", baseTag]);
    expect(JSON.parse(labels.stdout)).toMatchObject({
      "org.opencontainers.image.revision": "abc123",
      "molecule.test": "base",
    });
    const baseDigest = await timed("push base", () => pushImage(e, baseTag));
    expect(baseDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const baseRef = `${reg.host}/molecule/base@${baseDigest}`;
    const baseLayers = await imageLayers(e, baseTag);

    // Drop the local base so the second build can only get it from the registry, by digest alone.
    await e.docker(["rmi", baseTag]);
    expect((await e.docker(["image", "inspect", baseRef], { allowFailure: true })).code).not.toBe(0);

    // The child: mirrors Dockerfile.platform-agent (ARG BASE_IMAGE without a default, FROM ${BASE_IMAGE}).
    const childCtx = path.join(work, "child");
    await mkdir(path.join(childCtx, "files"), { recursive: true });
    await writeFile(
      path.join(childCtx, "Dockerfile"),
      [
        "ARG BASE_IMAGE",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a JS template
        "FROM ${BASE_IMAGE}",
        "COPY files/payload.txt /opt/payload/payload.txt",
        "",
      ].join("\n"),
    );
    await writeFile(path.join(childCtx, "files/payload.txt"), "payload from the child build\n");
    const childTag = `${reg.host}/molecule/child:t1`;
    created.push(childTag);
    await timed("build child", () =>
      buildImage(e, {
        context: childCtx,
        dockerfile: path.join(childCtx, "Dockerfile"),
        buildArgs: { BASE_IMAGE: baseRef },
        labels: { "molecule.test": "child" },
        tags: [childTag],
      }),
    );
    const childDigest = await timed("push child", () => pushImage(e, childTag));
    expect(childDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(childDigest).not.toBe(baseDigest);

    // The registry has both, under the digests the pushes reported.
    for (const [repo, digest] of [
      ["molecule/base", baseDigest],
      ["molecule/child", childDigest],
    ] as const) {
      const head = await fetch(`${reg.url}/v2/${repo}/manifests/${digest}`, {
        method: "HEAD",
        headers: {
          accept: [
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
          ].join(", "),
        },
      });
      expect(head.status, `${repo}@${digest}`).toBe(200);
      expect(head.headers.get("docker-content-digest")).toBe(digest);
    }

    // The child is the base plus one layer. imageLayers(baseRef) pulls the base back by digest.
    const pulledBaseLayers = await imageLayers(e, baseRef);
    created.push(baseRef);
    expect(pulledBaseLayers).toEqual(baseLayers);
    const childLayers = await imageLayers(e, childTag);
    expect(childLayers.slice(0, baseLayers.length)).toEqual(baseLayers);
    expect(childLayers).toHaveLength(baseLayers.length + 1);

    // Run it: as root reading the copied file through a volume; as the non-root user through the base's
    // entrypoint, which is executable only because of COPY --chmod.
    const out = path.join(work, "out");
    await mkdir(out);
    const copied = await runContainer(e, childTag, {
      entrypoint: "sh",
      args: ["-c", "cat /opt/payload/payload.txt /greeting.txt && cp /opt/payload/payload.txt /out/"],
      volumes: [{ source: out, target: "/out" }],
    });
    expect(copied).toMatchObject({ code: 0, stdout: "payload from the child build\nhi there\n" });
    expect(await readFile(path.join(out, "payload.txt"), "utf8")).toBe("payload from the child build\n");

    const asAgent = await runContainer(e, childTag, { user: String(AGENT_UID), args: ["one", "two"] });
    expect(asAgent).toMatchObject({ code: 0, stdout: "hello from agent: one two\n" });
    const mode = await runContainer(e, childTag, { entrypoint: "stat", args: ["-c", "%a", "/hello.sh"] });
    expect(mode.stdout.trim()).toBe("755");
  });
});

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("beforeAll did not finish");
  return value;
}
