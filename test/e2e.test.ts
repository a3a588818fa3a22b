// End to end on a real Docker engine: the real program (index.ts, Pulumi.local.yaml) under Pulumi's mock
// runtime, whose callbacks perform the real effects. What stands in for what:
// - the Pulumi engine (cannot be installed here) -> the mock runtime, plus `state` below: like the engine,
//   a resource whose inputs (and build context) did not change is not touched again;
// - @pulumi/command's local.Command -> its `create` run with sh in the project directory;
// - @pulumi/docker-build's Image -> `docker build` with BuildKit from the inputs the program gave, then
//   `docker push` of each tag to a real registry on loopback; the pushed digest comes back as `digest`.
// Order comes only from the program's data flow: a callback runs when the engine would call the provider,
// i.e. once every input (BASE_IMAGE = the base's digest) is known.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSampleRepos } from "../lib/sample-repos";
import { hashTree } from "../lib/staging/tree";
import {
  buildImage,
  type DockerEngine,
  dockerAvailable,
  ensureDocker,
  imageLayers,
  importRootImage,
  mustRunDocker,
  pushImage,
  runContainer,
} from "./support/docker-engine";
import { type LocalRegistry, MEDIA, startRegistry } from "./support/oci-registry";
import { type Declared, PROJECT_DIR, runProgram, stackConfig } from "./support/pulumi-program";

const IMAGE = "docker-build:index:Image";
const SHA = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const TEMPLATE = "/opt/molecule-platform-agent-template";

const availability = dockerAvailable();
const run = availability.ok || mustRunDocker();
if (!run) console.warn(`e2e tier skipped (not in CI): ${availability.reason}`);

let engine: DockerEngine;
let registry: LocalRegistry;
let dir: string;
let src: string;
let rootImage: string;
let local: Record<string, unknown>[];
/** The engine's memory between runs: resource name -> inputs hash -> outputs. */
const state = new Map<string, { key: string; outputs: Record<string, unknown> }>();
const builds: Array<{ name: string; started: number; pushed?: number; buildArgs: Record<string, string> }> =
  [];

function config(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...stackConfig("Pulumi.local.yaml"),
    "molecule-images:registry": JSON.stringify({ type: "oci", address: registry.host }),
    "molecule-images:gitBaseUrl": `file://${dir}/git`,
    "molecule-images:sourceRoot": src,
    "molecule-images:gitSha": SHA,
    "molecule-images:images": JSON.stringify(local),
    ...overrides,
  };
}

/** What the providers do, for real. */
async function resolve(r: Declared): Promise<Record<string, unknown> | undefined> {
  if (r.type === "command:local:Command") {
    const stdout = execFileSync("sh", ["-c", r.inputs.create as string], {
      cwd: PROJECT_DIR,
      encoding: "utf8",
    });
    return { stdout };
  }
  if (r.type !== IMAGE) return undefined;
  const context = (r.inputs.context as { location: string }).location;
  // docker-build decides "changed" from its inputs and a hash of the build context: so does this stand-in.
  const key = createHash("sha256").update(JSON.stringify(r.inputs)).update(hashTree(context)).digest("hex");
  const previous = state.get(r.name);
  if (previous?.key === key) return previous.outputs;

  const buildArgs = r.inputs.buildArgs as Record<string, string>;
  const record: (typeof builds)[number] = { name: r.name, started: Date.now(), buildArgs };
  builds.push(record);
  const tags = r.inputs.tags as string[];
  await buildImage(engine, {
    context,
    dockerfile: (r.inputs.dockerfile as { location: string }).location,
    buildArgs,
    labels: r.inputs.labels as Record<string, string>,
    tags,
  });
  let digest = "";
  for (const tag of tags) digest = await pushImage(engine, tag);
  record.pushed = Date.now();
  const outputs = { digest, ref: `${tags[0]}@${digest}` };
  state.set(r.name, { key, outputs });
  return outputs;
}

async function registryDigest(repository: string, tag: string): Promise<string | null> {
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, {
    method: "HEAD",
    headers: {
      Accept: [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest].join(", "),
    },
  });
  return res.ok ? res.headers.get("docker-content-digest") : null;
}

describe.skipIf(!run)("the image chain on a real Docker engine", () => {
  let outputs: Record<string, Record<string, { repository: string; digest: string; tags: string[] }>>;

  beforeAll(async () => {
    engine = await ensureDocker();
    registry = await startRegistry();
    rootImage = await importRootImage(engine);
    dir = mkdtempSync(path.join(tmpdir(), "e2e-"));
    createSampleRepos(path.join(dir, "git"));
    src = path.join(dir, "src");
    cpSync(path.join(PROJECT_DIR, "sample-platform"), src, { recursive: true });
    // The offline root image: Docker Hub cannot be reached here.
    local = (
      JSON.parse(stackConfig("Pulumi.local.yaml")["molecule-images:images"] ?? "[]") as Record<
        string,
        unknown
      >[]
    ).map((image) =>
      image.name === "platform" ? { ...image, buildArgs: { ROOT_IMAGE: rootImage } } : image,
    );
    const first = await runProgram({ config: config(), stack: "local", resolve, await: ["images"] });
    expect(first.errors).toEqual([]);
    outputs = first.outputs as typeof outputs;
  }, 600_000);

  afterAll(async () => {
    await registry?.stop();
    await engine?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("builds the agent on the base's pushed digest, after it exists, with the base's layers underneath", async () => {
    const base = outputs.images?.platform;
    const agent = outputs.images?.["platform-agent"];
    const baseBuild = builds.find((b) => b.name === "platform-image");
    const agentBuild = builds.find((b) => b.name === "platform-agent-image");
    expect(agentBuild?.buildArgs.BASE_IMAGE).toBe(`${registry.host}/molecule-ai/platform@${base?.digest}`);
    expect(agentBuild?.started).toBeGreaterThanOrEqual(baseBuild?.pushed ?? Number.POSITIVE_INFINITY);
    const baseLayers = await imageLayers(engine, `${base?.repository}@${base?.digest}`);
    const agentLayers = await imageLayers(engine, `${agent?.repository}@${agent?.digest}`);
    expect(agentLayers.slice(0, baseLayers.length)).toEqual(baseLayers);
    expect(agentLayers.length).toBeGreaterThan(baseLayers.length);
  });

  it("bakes the staged platform-agent identity, byte for byte, with the fallback script executable", async () => {
    const agent = outputs.images?.["platform-agent"];
    const staged = path.join(src, ".tenant-bundle-deps", "workspace-configs-templates", "platform-agent");
    for (const file of ["config.yaml", "mcp_servers.yaml", "prompts/concierge.md", "identity-fallback.sh"]) {
      const res = await runContainer(engine, `${agent?.repository}@${agent?.digest}`, {
        entrypoint: "cat",
        args: [`${TEMPLATE}/${file}`],
      });
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toBe(readFileSync(path.join(staged, file), "utf8"));
    }
    const exec = await runContainer(engine, `${agent?.repository}@${agent?.digest}`, {
      entrypoint: "sh",
      args: ["-c", `test -x ${TEMPLATE}/identity-fallback.sh && echo executable`],
    });
    expect(exec.stdout.trim()).toBe("executable");
  });

  it("the entrypoint fills /configs without overwriting, then hands off to the base entrypoint", async () => {
    const agent = outputs.images?.["platform-agent"];
    const configs = path.join(dir, "configs");
    mkdirSync(configs, { recursive: true });
    writeFileSync(path.join(configs, "config.yaml"), "name: the user's own\n");
    chmodSync(configs, 0o777);
    const res = await runContainer(engine, `${agent?.repository}@${agent?.digest}`, {
      volumes: [{ source: configs, target: "/configs" }],
      args: ["echo", "handed-off"],
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain("identity-fallback: restored ./mcp_servers.yaml");
    expect(res.stdout).toContain("molecule-base-entrypoint: echo handed-off");
    expect(res.stdout.trim().endsWith("handed-off")).toBe(true);
    expect(readFileSync(path.join(configs, "config.yaml"), "utf8")).toBe("name: the user's own\n");
    const staged = path.join(src, ".tenant-bundle-deps", "workspace-configs-templates", "platform-agent");
    expect(readFileSync(path.join(configs, "mcp_servers.yaml"), "utf8")).toBe(
      readFileSync(path.join(staged, "mcp_servers.yaml"), "utf8"),
    );
    expect(readFileSync(path.join(configs, "prompts", "concierge.md"), "utf8")).toBe(
      readFileSync(path.join(staged, "prompts", "concierge.md"), "utf8"),
    );
  });

  it("both images are in the registry under local-<sha7> and local-latest with the exported digests", async () => {
    for (const [name, repo] of [
      ["platform", "molecule-ai/platform"],
      ["platform-agent", "molecule-ai/molecule-platform-agent"],
    ] as const) {
      const exported = outputs.images?.[name];
      expect(exported?.tags).toEqual([
        `${registry.host}/${repo}:local-${SHA.slice(0, 7)}`,
        `${registry.host}/${repo}:local-latest`,
      ]);
      expect(await registryDigest(repo, `local-${SHA.slice(0, 7)}`)).toBe(exported?.digest);
      expect(await registryDigest(repo, "local-latest")).toBe(exported?.digest);
    }
  });

  it("a second run with nothing changed rebuilds nothing and exports the same digests", async () => {
    const before = builds.length;
    const second = await runProgram({ config: config(), stack: "local", resolve, await: ["images"] });
    expect(second.errors).toEqual([]);
    expect(builds.length).toBe(before);
    expect(second.outputs.images).toEqual(outputs.images);
  });

  it("a manifest without the platform-agent template fails before any build, naming it", async () => {
    const manifest = JSON.parse(readFileSync(path.join(PROJECT_DIR, "manifest.local.json"), "utf8"));
    manifest.workspace_templates = [];
    const file = path.join(dir, "no-agent.json");
    writeFileSync(file, JSON.stringify(manifest));
    const before = builds.length;
    await expect(
      runProgram({ config: config({ "molecule-images:manifest": file }), stack: "local", resolve }),
    ).rejects.toThrow(/no workspace_templates entry "platform-agent"/);
    expect(builds.length).toBe(before);
  });

  it("a base image that fails to build stops the chain: the agent is never built on a stale base", async () => {
    writeFileSync(
      path.join(src, "workspace-server", "Dockerfile.broken"),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a JS template
      "ARG ROOT_IMAGE\nFROM ${ROOT_IMAGE}\nRUN echo the base build breaks && exit 3\n",
    );
    const images = local.map((image) =>
      image.name === "platform" ? { ...image, dockerfile: "workspace-server/Dockerfile.broken" } : image,
    );
    const before = builds.length;
    const broken = await runProgram({
      config: config({
        "molecule-images:images": JSON.stringify(images),
        "molecule-images:gitSha": "6".repeat(40),
      }),
      stack: "local",
      resolve,
      expectFailure: true,
    });
    expect(broken.errors.map((e) => e.name)).toEqual(["platform-image"]);
    // Downstream, only the consequence of that one failure: nothing else broke.
    for (const reason of broken.unhandled)
      expect(String(reason)).toContain("failed to register new resource platform-image");
    expect(String(broken.errors[0]?.error)).toMatch(/exit 3|exit code: 3|failed/i);
    expect(builds.slice(before).map((b) => b.name)).toEqual(["platform-image"]);
    expect(broken.resources.find((r) => r.name === "platform-agent-image")).toBeUndefined();
  });
});
