// End to end on the real engine: `pulumi up` of the local stack's program with the pinned Pulumi CLI, its
// Node.js language host, the docker-build provider and a buildkitd of this test's own, pushing to a real
// registry on loopback. Nothing is mocked. It needs root on Linux (buildkitd with runc): elsewhere it skips
// and says why; in CI it never skips.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT } from "../../lib/local/stack";
import { processState } from "../../lib/os/proc";
import { runPrReport } from "../../lib/pr-report/cli";
import { configOf, manifestOf, runImage, unpack } from "../support/oci-image";
import {
  commitSource,
  localStackConfig,
  type RealStack,
  realTierUnavailable,
  run,
  stackOutputs,
  startRealStack,
  tagDigest as tagDigestIn,
  upPastRegistryRace,
  writeStackConfig,
} from "../support/real-stack";

const STACK = "e2e";
const SHA = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const TEMPLATE = "/opt/molecule-platform-agent-template";
const AGENT_REPO = "molecule-ai/molecule-platform-agent";
const SAMPLE = path.join(PROJECT, "sample-templates", "platform-agent");
const FIXTURE = path.join(PROJECT, "test", "fixtures", "preview", "real-pin-bump.json");

const unavailable = realTierUnavailable();
if (unavailable && process.env.CI === "true")
  throw new Error(`the real-engine tier cannot run in CI: ${unavailable}`);
if (unavailable) console.warn(`real-engine e2e tier skipped (not in CI): ${unavailable}`);

type Images = Record<string, { repository: string; ref: string; digest: string; tags: string[] }>;
let world: RealStack;
let config: Record<string, unknown>;
let images: Images;

const up = (extra: string[] = [], stack = STACK) =>
  upPastRegistryRace((args) => world.pulumi(args), stack, extra);
const outputs = (stack = STACK) => stackOutputs((args) => world.pulumi(args), stack);

async function stateOf(type: string, name: string): Promise<{ inputs: Record<string, unknown> }> {
  const r = await world.pulumi(["stack", "export", "--stack", STACK]);
  const resources = JSON.parse(r.stdout).deployment.resources as Array<{
    urn: string;
    type: string;
    inputs: Record<string, unknown>;
  }>;
  const found = resources.find((res) => res.type === type && res.urn.endsWith(`::${name}`));
  if (!found) throw new Error(`no ${type} ${name} in state`);
  return found;
}

const tagDigest = (repo: string, tag: string) => tagDigestIn(world, repo, tag);

/**
 * BuildKit's progress as docker-build relays it, one line per event, prefixed with the resource:
 * "... Image platform-image creating (0s) #8 [2/5] COPY ..." and later "... #8 CACHED".
 */
function cachedCopies(log: string): Array<{ instruction: string; cached: boolean }> {
  const copies = new Map<string, { instruction: string; cached: boolean }>();
  for (const m of log.matchAll(/Image (\S+) [^\n]*? #(\d+) ([^\n]*)/g)) {
    const [, resource, step, event = ""] = m;
    const key = `${resource}#${step}`;
    const copy = /^\[[^\]]*\] (COPY .*)$/.exec(event)?.[1];
    if (copy && !copies.has(key)) copies.set(key, { instruction: `${resource}: ${copy}`, cached: false });
    const known = copies.get(key);
    if (known && event === "CACHED") known.cached = true;
  }
  return [...copies.values()];
}

function setConfig(overrides: Record<string, unknown>) {
  config = { ...config, ...overrides };
  writeStackConfig(world, STACK, config);
}

describe.skipIf(unavailable !== undefined)("the local stack on the real engine", () => {
  beforeAll(async () => {
    world = await startRealStack(STACK);
    config = localStackConfig(world, SHA);
    writeStackConfig(world, STACK, config);
    const first = await up();
    expect(first.code, first.stdout + first.stderr).toBe(0);
    images = (await outputs()).images as Images;
  }, 900_000);

  afterAll(async () => {
    await world?.stop();
  });

  it("builds the agent on the base's pushed digest, with the base's layers underneath", async () => {
    const base = images.platform;
    const agent = images["platform-agent"];
    const declared = await stateOf("docker-build:index:Image", "platform-agent-image");
    expect((declared.inputs.buildArgs as Record<string, string>).BASE_IMAGE).toBe(
      `${world.registry.host}/molecule-ai/platform@${base?.digest}`,
    );
    const baseLayers = (await manifestOf(`${base?.repository}@${base?.digest}`)).layers.map((l) => l.digest);
    const agentLayers = (await manifestOf(`${agent?.repository}@${agent?.digest}`)).layers.map(
      (l) => l.digest,
    );
    expect(agentLayers.slice(0, baseLayers.length)).toEqual(baseLayers);
    expect(agentLayers.length).toBeGreaterThan(baseLayers.length);
  });

  it("pushes both images under local-<sha7> and local-latest with the exported digests", async () => {
    for (const [name, repo] of [
      ["platform", "molecule-ai/platform"],
      ["platform-agent", AGENT_REPO],
    ] as const) {
      const exported = images[name];
      expect(exported?.tags).toEqual([
        `${world.registry.host}/${repo}:local-${SHA.slice(0, 7)}`,
        `${world.registry.host}/${repo}:local-latest`,
      ]);
      expect(await tagDigest(repo, `local-${SHA.slice(0, 7)}`)).toBe(exported?.digest);
      expect(await tagDigest(repo, "local-latest")).toBe(exported?.digest);
    }
    const pins = (await outputs()).runtimeImagePins as Record<string, string>;
    expect(pins["platform-agent"]).toBe(
      `${world.registry.host}/${AGENT_REPO}@${images["platform-agent"]?.digest}`,
    );
  });

  it("stamps the commit into the base (GIT_SHA from {commit}) and carries the manifest its templates came from", async () => {
    const base = images.platform;
    const rootfs = await unpack(`${base?.repository}@${base?.digest}`);
    expect(readFileSync(path.join(rootfs, "app", "git-sha"), "utf8")).toBe(`${SHA}\n`);
    expect(readFileSync(path.join(rootfs, "app", "manifest.json"), "utf8")).toBe(
      readFileSync(path.join(world.dir, "manifest.local.json"), "utf8"),
    );
  });

  it("a Dockerfile that does not match the stack fails the preview and the up before any build, listing every problem", async () => {
    const agentFile = path.join(
      world.dir,
      "sample-platform",
      "workspace-server",
      "Dockerfile.platform-agent",
    );
    const original = readFileSync(agentFile, "utf8");
    writeFileSync(agentFile, original.replace("mcp_servers.yaml /opt", "mcp.yaml /opt"));
    const saved = config;
    setConfig({
      gitSha: "9".repeat(40),
      images: (config.images as Array<Record<string, unknown>>).map((image) =>
        image.name === "platform-agent" ? { ...image, buildArgs: { STRAY: "1" } } : image,
      ),
    });
    try {
      for (const command of [
        ["preview", "--stack", STACK],
        ["up", "--stack", STACK, "--yes", "--skip-preview"],
      ]) {
        const failed = await world.pulumi(command);
        const log = failed.stdout + failed.stderr;
        expect(failed.code, log).not.toBe(0);
        expect(log).toContain("the Dockerfiles do not match the stack (2 problems); nothing was built:");
        expect(log).toContain(
          "platform-agent: sample-platform/workspace-server/Dockerfile.platform-agent:6: build arg STRAY is passed but no ARG STRAY is declared",
        );
        expect(log).toMatch(
          /platform-agent: sample-platform\/workspace-server\/Dockerfile.platform-agent:1\d: COPY \$\{PLATFORM_AGENT_TEMPLATE_DIR\}\/mcp.yaml: \S+\/mcp.yaml is not staged/,
        );
        // Stopped before any resource: no build step ran.
        expect(log).not.toMatch(/docker-build:index:Image|#\d+ \[/);
      }
    } finally {
      writeFileSync(agentFile, original);
      config = saved;
      writeStackConfig(world, STACK, config);
    }
    expect(await tagDigest(AGENT_REPO, "local-9999999")).toBeUndefined();
    expect((await outputs()).images).toEqual(images);
  });

  it("bakes the platform-agent identity byte for byte, the fallback executable, the entrypoint from a heredoc", async () => {
    const agent = images["platform-agent"];
    const rootfs = await unpack(`${agent?.repository}@${agent?.digest}`);
    for (const file of ["config.yaml", "mcp_servers.yaml", "prompts/concierge.md", "identity-fallback.sh"]) {
      expect(readFileSync(path.join(rootfs, TEMPLATE, file)), file).toEqual(
        readFileSync(path.join(SAMPLE, file)),
      );
    }
    expect(statSync(path.join(rootfs, TEMPLATE, "identity-fallback.sh")).mode & 0o111).toBe(0o111);
    expect(statSync(path.join(rootfs, "entrypoint-platform-agent.sh")).mode & 0o777).toBe(0o755);
    const entrypoint = readFileSync(path.join(rootfs, "entrypoint-platform-agent.sh"), "utf8");
    expect(entrypoint).toContain('exec /entrypoint.sh "$@"');
    expect((await configOf(`${agent?.repository}@${agent?.digest}`)).config.Entrypoint).toEqual([
      "/entrypoint-platform-agent.sh",
    ]);
  });

  it("the entrypoint fills an empty /configs, never overwrites, then hands off to the base entrypoint", async () => {
    const agent = images["platform-agent"];
    const rootfs = await unpack(`${agent?.repository}@${agent?.digest}`);
    mkdirSync(path.join(rootfs, "configs"), { recursive: true });
    const configs = path.join(world.dir, "configs");
    mkdirSync(configs, { recursive: true });
    writeFileSync(path.join(configs, "config.yaml"), "name: the user's own\n");
    const res = runImage(rootfs, await configOf(`${agent?.repository}@${agent?.digest}`), {
      args: ["echo", "handed-off"],
      mounts: [{ source: configs, destination: "/configs" }],
    });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toContain("identity-fallback: restored ./mcp_servers.yaml");
    expect(res.stdout).toContain("molecule-base-entrypoint: echo handed-off");
    expect(res.stdout.trim().endsWith("handed-off")).toBe(true);
    expect(readFileSync(path.join(configs, "config.yaml"), "utf8")).toBe("name: the user's own\n");
    for (const file of ["mcp_servers.yaml", "prompts/concierge.md"]) {
      expect(readFileSync(path.join(configs, file))).toEqual(readFileSync(path.join(SAMPLE, file)));
    }
  });

  it("a second run changes nothing: preview --expect-no-changes and up --expect-no-changes both pass", async () => {
    const preview = await world.pulumi(["preview", "--stack", STACK, "--expect-no-changes"]);
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    const again = await up(["--expect-no-changes"]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect((await outputs()).images).toEqual(images);
  });

  it("a stack made when the templates component was TemplateStaging keeps every URN: no create, no delete", async () => {
    // The state as the earlier layout wrote it: the component's type, and with it its record's URN and parent.
    const exported = await world.pulumi(["stack", "export", "--stack", STACK]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain("molecule:index:Templates");
    const old = path.join(world.dir, "old-layout-state.json");
    writeFileSync(
      old,
      exported.stdout.replaceAll("molecule:index:Templates", "molecule:index:TemplateStaging"),
    );
    const imported = await world.pulumi(["stack", "import", "--stack", STACK, "--file", old]);
    expect(imported.code, imported.stderr).toBe(0);

    const preview = await world.pulumi(["preview", "--stack", STACK, "--json"]);
    expect(preview.code, preview.stderr).toBe(0);
    const steps = (JSON.parse(preview.stdout).steps ?? []) as Array<{ op: string; urn: string }>;
    expect(steps.filter((s) => s.op !== "same")).toEqual([]);
    const again = await up();
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/\b(created|deleted|replaced)\b/);
    const state = await world.pulumi(["stack", "export", "--stack", STACK]);
    expect(state.stdout).not.toContain("molecule:index:TemplateStaging");
    expect((await outputs()).images).toEqual(images);
  });

  it("after buildkitd's local cache is pruned, a rebuild is served from the registry cache", async () => {
    const prune = execFileSync(
      world.engine.buildctl ?? "buildctl",
      ["--addr", world.builder.endpoint, "prune", "--all"],
      {
        encoding: "utf8",
      },
    );
    expect(prune).toMatch(/Total:/);
    // A second stack of the same commit: it has no state, so both images build again, now with an empty
    // local cache; only the registry cache (<repository>:buildcache) can serve their layers.
    const fresh = "e2e-fresh";
    expect((await world.pulumi(["stack", "init", fresh])).code).toBe(0);
    writeStackConfig(world, fresh, config);
    const rebuilt = await up([], fresh);
    expect(rebuilt.code, rebuilt.stdout + rebuilt.stderr).toBe(0);
    const log = rebuilt.stdout + rebuilt.stderr;
    expect(log).toContain(
      `importing cache manifest from ${world.registry.host}/molecule-ai/platform:buildcache`,
    );
    expect(log).toContain(`importing cache manifest from ${world.registry.host}/${AGENT_REPO}:buildcache`);
    // Every COPY, in both images, is served from the cache: BuildKit prints "#<step> CACHED" for each.
    const copies = cachedCopies(log);
    // The base: the three staged folders, the staged manifest, the builder stage's git-sha, the entrypoint.
    expect(copies.filter((c) => c.instruction.startsWith("platform-image")).length).toBe(6);
    expect(copies.filter((c) => c.instruction.startsWith("platform-agent-image")).length).toBe(5);
    expect(copies.filter((c) => !c.cached).map((c) => c.instruction)).toEqual([]);
  });

  it("the same commit, rebuilt on a builder that lost its cache and with no registry cache, gives the same digests", async () => {
    // A commit of the sample platform itself, so the stack reads the commit's time from git:
    // SOURCE_DATE_EPOCH for the image times, and rewrite-timestamp for every file time in the layers.
    const { sha, date } = commitSource(world);
    const built: Images[] = [];
    for (const [i, stack] of ["e2e-repro-a", "e2e-repro-b"].entries()) {
      execFileSync(world.engine.buildctl ?? "buildctl", ["--addr", world.builder.endpoint, "prune", "--all"]);
      expect((await world.pulumi(["stack", "init", stack])).code).toBe(0);
      writeStackConfig(world, stack, { ...config, gitSha: sha, tagPrefix: `repro${i}`, cache: "false" });
      const r = await up([], stack);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      built.push((await outputs(stack)).images as Images);
    }
    const [a, b] = built;
    expect(b?.platform?.digest).toBe(a?.platform?.digest);
    expect(b?.["platform-agent"]?.digest).toBe(a?.["platform-agent"]?.digest);
    // The image's own time is the commit's, not the build's.
    const created = (await configOf(`${a?.platform?.repository}@${a?.platform?.digest}`)).created;
    expect(created).toBe(date);
  });

  it("a template pin bump: the preview replaces the record and updates both images; up rebuilds both", async () => {
    const bare = path.join(
      world.dir,
      "git",
      "molecule-ai",
      "molecule-ai-workspace-template-platform-agent.git",
    );
    const work = path.join(world.dir, "bump");
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t.invalid", ...args], {
        cwd: work,
        encoding: "utf8",
        env: {
          ...process.env,
          GIT_AUTHOR_DATE: "2026-02-02T00:00:00Z",
          GIT_COMMITTER_DATE: "2026-02-02T00:00:00Z",
        },
      }).trim();
    execFileSync("git", ["clone", "--quiet", bare, work]);
    writeFileSync(path.join(work, "prompts", "concierge.md"), "# Concierge\n\nA bumped prompt.\n");
    git("commit", "--quiet", "--no-gpg-sign", "-am", "bump the prompt");
    git("push", "--quiet", "origin", "HEAD:main");
    const newRef = git("rev-parse", "HEAD");

    const baseManifestFile = path.join(world.dir, "manifest.local.json");
    const manifest = JSON.parse(readFileSync(baseManifestFile, "utf8"));
    const oldRef = manifest.workspace_templates[0].ref as string;
    manifest.workspace_templates[0].ref = newRef;
    writeFileSync(path.join(world.dir, "manifest.bumped.json"), JSON.stringify(manifest, null, 2));
    setConfig({ manifest: "manifest.bumped.json" });

    const preview = await world.pulumi(["preview", "--stack", STACK, "--json"]);
    expect(preview.code, preview.stderr).toBe(0);
    const digest = JSON.parse(preview.stdout) as { steps: Array<{ op: string; urn: string }> };
    const op = (suffix: string) => digest.steps.find((s) => s.urn.endsWith(suffix))?.op;
    expect(op("pulumi-nodejs:dynamic:Resource::templates-record")).toBe("replace");
    expect(op("docker-build:index:Image::platform-image")).toBe("update");
    expect(op("docker-build:index:Image::platform-agent-image")).toBe("update");
    if (process.env.RECORD_FIXTURES === "1") writeFileSync(FIXTURE, preview.stdout);

    const previewFile = path.join(world.dir, "preview.json");
    writeFileSync(previewFile, preview.stdout);
    let report = "";
    const sink = {
      write: (s: string) => {
        report += s;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    const code = await runPrReport(
      [
        "--preview-json",
        previewFile,
        "--manifest",
        path.join(world.dir, "manifest.bumped.json"),
        "--base-manifest",
        baseManifestFile,
      ],
      { stdout: sink, stderr: process.stderr, env: {}, fetch },
    );
    expect(code).toBe(0);
    const reason = `templates changed: platform-agent ${oldRef.slice(0, 7)} → ${newRef.slice(0, 7)}`;
    for (const image of ["platform", "platform-agent"])
      expect(report).toMatch(new RegExp(`${image}\\b[^\\n]*${reason}`));

    const before = images;
    const upped = await up();
    expect(upped.code, upped.stdout + upped.stderr).toBe(0);
    images = (await outputs()).images as Images;
    expect(images.platform?.digest).not.toBe(before.platform?.digest);
    expect(images["platform-agent"]?.digest).not.toBe(before["platform-agent"]?.digest);
    const pins = (await outputs()).runtimeImagePins as Record<string, string>;
    expect(pins["platform-agent"]).toBe(
      `${world.registry.host}/${AGENT_REPO}@${images["platform-agent"]?.digest}`,
    );
    const rootfs = await unpack(
      `${images["platform-agent"]?.repository}@${images["platform-agent"]?.digest}`,
    );
    expect(readFileSync(path.join(rootfs, TEMPLATE, "prompts", "concierge.md"), "utf8")).toContain(
      "A bumped prompt.",
    );
  });

  it("a manifest without the platform-agent template fails before any build, naming it", async () => {
    const manifest = JSON.parse(readFileSync(path.join(world.dir, "manifest.bumped.json"), "utf8"));
    manifest.workspace_templates = [];
    writeFileSync(path.join(world.dir, "manifest.no-agent.json"), JSON.stringify(manifest));
    const saved = config;
    setConfig({ manifest: "manifest.no-agent.json", gitSha: "7".repeat(40) });
    const failed = await up();
    config = saved;
    writeStackConfig(world, STACK, config);
    expect(failed.code).not.toBe(0);
    expect(failed.stdout + failed.stderr).toMatch(/no workspace_templates entry "platform-agent"/);
    // Nothing was built or pushed for that commit, and the stack still holds the last good images.
    expect(await tagDigest(AGENT_REPO, "local-7777777")).toBeUndefined();
    expect(await tagDigest("molecule-ai/platform", "local-7777777")).toBeUndefined();
    expect((await outputs()).images).toEqual(images);
  });

  it("a base that fails to build stops the chain: the agent is never built on a stale base", async () => {
    writeFileSync(
      path.join(world.dir, "sample-platform", "workspace-server", "Dockerfile.broken"),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a JS template
      "ARG ROOT_IMAGE\nFROM ${ROOT_IMAGE}\nARG GIT_SHA\nRUN echo the base build breaks && exit 3\n",
    );
    const broken = "e2e-broken";
    const init = await world.pulumi(["stack", "init", broken]);
    expect(init.code, init.stderr).toBe(0);
    writeStackConfig(world, broken, {
      ...config,
      gitSha: "8".repeat(40),
      images: (config.images as Array<Record<string, unknown>>).map((image) =>
        image.name === "platform" ? { ...image, dockerfile: "workspace-server/Dockerfile.broken" } : image,
      ),
    });
    const failed = await world.pulumi(["up", "--stack", broken, "--yes", "--skip-preview"]);
    expect(failed.code).not.toBe(0);
    const log = failed.stdout + failed.stderr;
    expect(log).toMatch(/platform-image[\s\S]*exit code: 3/);
    expect(log).not.toMatch(/platform-agent-image\s+creat/);
    expect(await tagDigest(AGENT_REPO, "local-8888888")).toBeUndefined();
  });
});

describe.skipIf(unavailable !== undefined)("the main job: npm run local", () => {
  const npm = (args: string[]) =>
    run("npm", ["run", "-s", ...args], { cwd: PROJECT, env: { ...process.env }, timeoutMs: 1_200_000 });

  it("up, a no-op second up, preview --expect-no-changes and the drift check pass; stop leaves nothing running", async () => {
    const first = await npm(["local"]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /local stack: summary[\s\S]*runtime pin platform-agent: 127\.0\.0\.1:5000\/molecule-ai\/molecule-platform-agent@sha256:[0-9a-f]{64}/,
    );
    const second = await npm(["local"]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("built: nothing");
    expect(second.stdout).toContain("unchanged: platform, platform-agent");
    const preview = await npm(["local", "--", "preview", "--expect-no-changes"]);
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    const drift = await npm(["local:drift", "--", "--json"]);
    expect(drift.code, drift.stdout + drift.stderr).toBe(0);
    const results = JSON.parse(drift.stdout).results as Array<{ status: string }>;
    expect(results.map((r) => r.status)).toEqual(["ok", "ok"]);

    const pids = ["registry/pid", "buildkit/buildkitd.pid"].map((f) =>
      Number(readFileSync(path.join(PROJECT, ".local", f), "utf8").trim()),
    );
    const stop = await npm(["local", "--", "stop"]);
    expect(stop.code, stop.stderr).toBe(0);
    for (const pid of pids) expect(processState(pid)).not.toBe("running");
  });
});
