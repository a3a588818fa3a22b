// The local stack (Pulumi.local.yaml): what can be checked without a Docker engine or the Pulumi CLI.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_BUILDER, registerBuilder } from "../../lib/local/buildkit";
import { createSampleRepos } from "../../lib/local/sample-repos";
import { parseManifest } from "../../lib/manifest/contract";
import { loadConfig } from "../../lib/stack/load-config";
import { copySource, PROJECT_DIR, runProgram, stackConfig } from "../support/pulumi-program";

let dir: string;
let config: Record<string, string>;
let builder: net.Server;
const savedBuildx = process.env.BUILDX_CONFIG;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "local-stack-"));
  // The program checks its builder answers before any resource: a stand-in on a unix socket that answers
  // the way buildkitd's HTTP/2 server does (with bytes), registered as the stack's builder.
  const socket = path.join(dir, "buildkitd.sock");
  builder = net.createServer((c) => c.once("data", () => c.end(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]))));
  await new Promise<void>((r) => builder.listen(socket, r));
  process.env.BUILDX_CONFIG = path.join(dir, "buildx");
  registerBuilder(process.env.BUILDX_CONFIG, LOCAL_BUILDER, `unix://${socket}`);
  createSampleRepos(path.join(dir, "git"));
  copySource(path.join(PROJECT_DIR, "sample-platform"), path.join(dir, "src"));
  config = {
    ...stackConfig("Pulumi.local.yaml"),
    "molecule-images:gitBaseUrl": `file://${dir}/git`,
    "molecule-images:sourceRoot": path.join(dir, "src"),
    "molecule-images:gitSha": "c".repeat(40),
  };
});

afterAll(() => {
  builder.close();
  if (savedBuildx === undefined) delete process.env.BUILDX_CONFIG;
  else process.env.BUILDX_CONFIG = savedBuildx;
  rmSync(dir, { recursive: true, force: true });
});

describe("the local stack", () => {
  it("pins exactly the commits the sample repos get: same SHAs on every machine", () => {
    const manifest = parseManifest(
      readFileSync(path.join(PROJECT_DIR, "manifest.local.json"), "utf8"),
      "manifest.local.json",
    );
    const made = createSampleRepos(path.join(dir, "again"));
    for (const repo of made) {
      const entry = manifest[repo.list].find((e) => e.name === repo.name);
      expect(
        entry?.ref,
        `${repo.list}/${repo.name}: update manifest.local.json after editing sample-templates/`,
      ).toBe(repo.ref);
      expect(entry?.repo).toBe(repo.repo);
    }
    expect(manifest.workspace_templates.map((e) => e.name)).toContain("platform-agent");
    expect(manifest.plugins.length).toBeGreaterThan(0);
    expect(manifest.org_templates.length).toBeGreaterThan(0);
  });

  it("declares no AWS resource and pushes to the loopback registry", async () => {
    const run = await runProgram({
      config,
      stack: "local",
      resolve: (r) =>
        r.type === "docker-build:index:Image" ? { digest: `sha256:${"e".repeat(64)}`, ref: "r" } : undefined,
    });
    expect(
      run.resources.filter((r) => r.type.startsWith("aws:") || r.type.includes("providers:aws")),
    ).toEqual([]);
    const agent = run.one("docker-build:index:Image", "platform-agent-image");
    expect(agent.inputs.tags).toEqual([
      "127.0.0.1:5000/molecule-ai/molecule-platform-agent:local-ccccccc",
      "127.0.0.1:5000/molecule-ai/molecule-platform-agent:local-latest",
    ]);
    expect(agent.inputs.registries).toBeUndefined();
    expect((agent.inputs.buildArgs as Record<string, string>).BASE_IMAGE).toBe(
      `127.0.0.1:5000/molecule-ai/platform@sha256:${"e".repeat(64)}`,
    );
  });

  it("resolves a relative file: git URL against the project directory", () => {
    const { config: loaded } = loadConfig({}, PROJECT_DIR, {
      ...stackConfig("Pulumi.local.yaml"),
      "molecule-images:gitSha": "c".repeat(40),
    });
    expect(loaded.gitBaseUrl).toBe(`file://${path.join(PROJECT_DIR, ".local", "git")}`);
    expect(loaded.registry).toEqual({ type: "oci", address: "127.0.0.1:5000" });
  });
});
