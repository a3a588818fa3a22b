// The real program (index.ts) with the committed Pulumi.staging.yaml, under Pulumi's mock runtime. Only
// what must point at this machine is overridden: the manifest (sample templates served from local git
// repos), the git host, the source root (a copy of sample-platform/) and the commit SHA. Staging is real.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createSampleRepos } from "../../lib/local/sample-repos";
import { type ImageConfig, stackConfigSchema } from "../../lib/stack/config-schema";
import { TEMPLATES_LABEL } from "../../lib/stack/image-spec";
import {
  copySource,
  type Declared,
  PROJECT_DIR,
  type Resolver,
  runProgram,
  stackConfig,
} from "../support/pulumi-program";

const IMAGE = "docker-build:index:Image";
const REPO = "aws:ecr/repository:Repository";
const POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
const RECORD = "pulumi-nodejs:dynamic:Resource";
const SHA = "0123456789abcdef0123456789abcdef01234567";
const REGISTRY = "153263036946.dkr.ecr.us-east-2.amazonaws.com";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

let dir: string;
let sourceRoot: string;
let base: Record<string, string>;
let stagingImages: ImageConfig[];

const fakeDigest = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

/** What the engine would hand back: repository URLs, a digest per image, the recorded staging output. */
const resolver =
  (opts: { recordKnown?: boolean } = {}): Resolver =>
  (r) => {
    if (r.type === REPO) return { repositoryUrl: `${REGISTRY}/${r.inputs.name}` };
    if (r.type === IMAGE) {
      const digest = fakeDigest(r.name);
      return { digest, ref: `${(r.inputs.tags as string[])[0]}@${digest}` };
    }
    // The real engine hands a dynamic resource's inputs back as its outputs in a preview, so the digest is
    // known; should it ever be unknown (the mock leaves it out), the images must wait on it, not hang.
    if (r.type === RECORD && opts.recordKnown === false) return { digest: undefined, entries: undefined };
    return undefined;
  };

const withImages = (images: unknown[]) => ({ ...base, "molecule-images:images": JSON.stringify(images) });

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "stack-test-"));
  const repos = createSampleRepos(path.join(dir, "git"));
  const manifest: Record<string, unknown[]> = { plugins: [], workspace_templates: [], org_templates: [] };
  for (const r of repos) manifest[r.list]?.push({ name: r.name, repo: r.repo, ref: r.ref });
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ version: 1, ...manifest }));
  const noAgent = { ...manifest, workspace_templates: [] };
  writeFileSync(path.join(dir, "manifest-no-agent.json"), JSON.stringify({ version: 1, ...noAgent }));
  sourceRoot = path.join(dir, "src");
  copySource(path.join(PROJECT_DIR, "sample-platform"), sourceRoot);
  base = {
    ...stackConfig("Pulumi.staging.yaml"),
    "molecule-images:manifest": path.join(dir, "manifest.json"),
    "molecule-images:gitBaseUrl": `file://${dir}/git`,
    "molecule-images:sourceRoot": sourceRoot,
    "molecule-images:gitSha": SHA,
    // The sample base image copies the staged manifest (the real one copies its own: see the gate tests).
    "molecule-images:stageManifest": "true",
  };
  stagingImages = JSON.parse(base["molecule-images:images"] ?? "[]");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the staging stack", () => {
  it("declares one ECR repository per image: immutable commit tags, scanning, AES256, retained, adopted", async () => {
    const run = await runProgram({ config: base, resolve: resolver() });
    const repos = run.byType(REPO);
    expect(repos.map((r) => r.inputs.name).sort()).toEqual([
      "molecule-ai/molecule-platform-agent",
      "molecule-ai/platform",
    ]);
    for (const repo of repos) {
      expect(repo.inputs).toMatchObject({
        imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters: [
          { filterType: "WILDCARD", filter: "staging-latest" },
          { filterType: "WILDCARD", filter: "buildcache" },
        ],
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [{ encryptionType: "AES256" }],
        forceDelete: false,
      });
      // adoptExistingRepositories: true in Pulumi.staging.yaml -> the import option, by repository name.
      expect(repo.importId).toBe(repo.inputs.name);
    }
    const provider = run.one("pulumi:providers:aws", "registry-aws");
    expect(provider.inputs).toMatchObject({
      region: "us-east-2",
      allowedAccountIds: JSON.stringify(["153263036946"]),
    });
  });

  it("gives every repository the lifecycle policy: untagged expire, keep N staging- images, moving tags kept", async () => {
    const run = await runProgram({ config: base, resolve: resolver() });
    const policies = run.byType(POLICY);
    expect(policies).toHaveLength(2);
    const rules = JSON.parse(policies[0]?.inputs.policy as string).rules;
    expect(rules.map((r: { rulePriority: number }) => r.rulePriority)).toEqual([1, 2, 3]);
    expect(rules[0].selection).toMatchObject({
      tagStatus: "tagged",
      tagPatternList: ["staging-latest", "buildcache"],
    });
    expect(rules[1].selection).toMatchObject({
      tagStatus: "untagged",
      countType: "sinceImagePushed",
      countNumber: 7,
    });
    expect(rules[2].selection).toMatchObject({
      tagPrefixList: ["staging-"],
      countType: "imageCountMoreThan",
      countNumber: 50,
    });
  });

  it("tags each image <repo>:staging-<sha7> and :staging-latest, pushes, and caches in <repo>:buildcache", async () => {
    const run = await runProgram({ config: base, resolve: resolver() });
    for (const [name, repo] of [
      ["platform-image", "molecule-ai/platform"],
      ["platform-agent-image", "molecule-ai/molecule-platform-agent"],
    ] as const) {
      const image = run.one(IMAGE, name);
      expect(image.inputs.tags).toEqual([
        `${REGISTRY}/${repo}:staging-0123456`,
        `${REGISTRY}/${repo}:staging-latest`,
      ]);
      // Pushed by the image exporter (this source copy is no git checkout: no commit time to clamp to).
      expect(image.inputs.push).toBe(false);
      expect(image.inputs.exports).toEqual([{ raw: "type=image,push=true" }]);
      expect(image.inputs.cacheFrom).toEqual([{ registry: { ref: `${REGISTRY}/${repo}:buildcache` } }]);
      expect(image.inputs.cacheTo).toEqual([
        {
          registry: {
            ref: `${REGISTRY}/${repo}:buildcache`,
            imageManifest: true,
            ociMediaTypes: true,
            mode: "max",
          },
        },
      ]);
      expect(image.inputs.labels).toMatchObject({ "org.opencontainers.image.revision": SHA });
      // No wall-clock value anywhere in the inputs: it would rebuild on every run.
      expect(JSON.stringify(image.inputs)).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d/);
    }
    const noCache = await runProgram({
      config: { ...base, "molecule-images:cache": "false" },
      resolve: resolver(),
    });
    expect(noCache.one(IMAGE, "platform-image").inputs.cacheFrom).toBeUndefined();
  });

  it("builds the agent on the base image's pushed digest, never a tag, and only after it exists", async () => {
    const run = await runProgram({ config: base, resolve: resolver() });
    const agent = run.one(IMAGE, "platform-agent-image");
    const args = agent.inputs.buildArgs as Record<string, string>;
    expect(args.BASE_IMAGE).toBe(`${REGISTRY}/molecule-ai/platform@${fakeDigest("platform-image")}`);
    expect(args.PLATFORM_AGENT_TEMPLATE_DIR).toBe(
      ".tenant-bundle-deps/workspace-configs-templates/platform-agent",
    );
    expect(run.one(IMAGE, "platform-image").inputs.buildArgs).not.toHaveProperty("BASE_IMAGE");
    // Registered after the base resolved: ordering is the data flow of its digest.
    const order = run.resources.map((r) => r.name);
    expect(order.indexOf("platform-agent-image")).toBeGreaterThan(order.indexOf("platform-image"));

    // Another commit changes the tags, not the base reference.
    const other = await runProgram({
      config: { ...base, "molecule-images:gitSha": "f".repeat(40) },
      resolve: resolver(),
    });
    const otherAgent = other.one(IMAGE, "platform-agent-image");
    expect((otherAgent.inputs.buildArgs as Record<string, string>).BASE_IMAGE).toBe(args.BASE_IMAGE);
    expect(otherAgent.inputs.tags).not.toEqual(agent.inputs.tags);
  });

  it("keeps the ECR password secret: encrypted in state, and in no other input", async () => {
    const run = await runProgram({ config: base, resolve: resolver() });
    for (const image of run.byType(IMAGE)) {
      const registries = image.inputs.registries as Record<string, unknown>;
      expect(registries[SECRET_SIG]).toBeDefined();
      expect(JSON.stringify(registries.value)).toContain(REGISTRY);
      const { registries: _, ...rest } = image.inputs;
      expect(JSON.stringify(rest)).not.toContain("ecr-password-must-stay-secret");
    }
    expect(JSON.stringify(run.byType(RECORD))).not.toContain("ecr-password");
  });

  it("exports the contract the drift check reads: images, repositories, templates, runtimeImagePins", async () => {
    const run = await runProgram({
      config: base,
      resolve: resolver(),
      await: ["images", "repositories", "templates", "runtimeImagePins"],
    });
    const { images, repositories, templates, runtimeImagePins } = run.outputs as Record<
      string,
      Record<string, unknown>
    >;
    const digest = fakeDigest("platform-agent-image");
    expect(images?.["platform-agent"]).toEqual({
      repository: `${REGISTRY}/molecule-ai/molecule-platform-agent`,
      ref: `${REGISTRY}/molecule-ai/molecule-platform-agent:staging-0123456@${digest}`,
      digest,
      tags: [
        `${REGISTRY}/molecule-ai/molecule-platform-agent:staging-0123456`,
        `${REGISTRY}/molecule-ai/molecule-platform-agent:staging-latest`,
      ],
    });
    expect(repositories).toEqual({
      platform: `${REGISTRY}/molecule-ai/platform`,
      "platform-agent": `${REGISTRY}/molecule-ai/molecule-platform-agent`,
    });
    expect(templates?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(runtimeImagePins).toEqual({
      "platform-agent": `${REGISTRY}/molecule-ai/molecule-platform-agent@${digest}`,
    });
  });

  it("stages the templates before any image: the tree is on disk and its digest feeds the images", async () => {
    rmSync(path.join(sourceRoot, ".tenant-bundle-deps"), { recursive: true, force: true });
    const run = await runProgram({ config: base, resolve: resolver() });
    const staged = path.join(
      sourceRoot,
      ".tenant-bundle-deps",
      "workspace-configs-templates",
      "platform-agent",
    );
    expect(readdirSync(staged).sort()).toEqual([
      "config.yaml",
      "identity-fallback.sh",
      "mcp_servers.yaml",
      "prompts",
    ]);
    expect(statSync(path.join(staged, "identity-fallback.sh")).mode & 0o777).toBe(0o755);
    const record = run.one(RECORD, "templates-record");
    const digest = record.inputs.digest as string;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(
      (record.inputs.entries as Array<{ list: string; name: string }>)
        .map((e) => `${e.list}/${e.name}`)
        .sort(),
    ).toEqual(["org_templates/org-demo", "plugins/plugin-hello", "workspace_templates/platform-agent"]);
    for (const image of run.byType(IMAGE))
      expect((image.inputs.labels as Record<string, string>)[TEMPLATES_LABEL]).toBe(digest);
    // The token is used by the in-program stager only: it is no input of the record.
    expect(JSON.stringify(record.inputs)).not.toMatch(/token/i);
  });
});

describe("the commit being built", () => {
  it("comes from config gitSha, else GITHUB_SHA, else the source checkout; its time is SOURCE_DATE_EPOCH", async () => {
    const checkout = path.join(dir, "checkout");
    cpSync(sourceRoot, checkout, { recursive: true });
    const env = {
      ...process.env,
      GIT_AUTHOR_DATE: "2026-03-04T05:06:07Z",
      GIT_COMMITTER_DATE: "2026-03-04T05:06:07Z",
    };
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
        cwd: checkout,
        env,
        encoding: "utf8",
      }).trim();
    git("init", "--quiet");
    git("add", "--all");
    git("commit", "--quiet", "--no-gpg-sign", "-m", "platform");
    const head = git("rev-parse", "HEAD");
    const { "molecule-images:gitSha": _, ...noSha } = base;
    const config = { ...noSha, "molecule-images:sourceRoot": checkout };
    const saved = process.env.GITHUB_SHA;
    try {
      delete process.env.GITHUB_SHA;
      const fromCheckout = await runProgram({ config, resolve: resolver() });
      const image = fromCheckout.one(IMAGE, "platform-image");
      expect(image.inputs.tags).toContain(`${REGISTRY}/molecule-ai/platform:staging-${head.slice(0, 7)}`);
      expect((image.inputs.buildArgs as Record<string, string>).SOURCE_DATE_EPOCH).toBe(
        String(Date.parse("2026-03-04T05:06:07Z") / 1000),
      );
      // With the commit's time known, the exporter clamps every layer's file times to it.
      expect(image.inputs.exports).toEqual([{ raw: "type=image,push=true,rewrite-timestamp=true" }]);
      process.env.GITHUB_SHA = "b".repeat(40);
      const fromCi = await runProgram({ config, resolve: resolver() });
      expect(fromCi.one(IMAGE, "platform-image").inputs.tags).toContain(
        `${REGISTRY}/molecule-ai/platform:staging-bbbbbbb`,
      );
      const fromConfig = await runProgram({
        config: { ...config, "molecule-images:gitSha": SHA },
        resolve: resolver(),
      });
      expect(fromConfig.one(IMAGE, "platform-image").inputs.tags).toContain(
        `${REGISTRY}/molecule-ai/platform:staging-0123456`,
      );
    } finally {
      if (saved === undefined) delete process.env.GITHUB_SHA;
      else process.env.GITHUB_SHA = saved;
    }
  });
});

describe("preview", () => {
  const isUnknown = (v: unknown) => typeof v === "object" && v !== null && "__pulumiUnknown" in v;

  it("with the templates record unknown, the images' template input is unknown, and nothing hangs", async () => {
    const run = await runProgram({ config: base, preview: true, resolve: resolver({ recordKnown: false }) });
    for (const image of run.byType(IMAGE)) {
      expect(isUnknown((image.inputs.labels as Record<string, unknown>)[TEMPLATES_LABEL])).toBe(true);
    }
  });

  it("with the staging record known and unchanged, every image input is known", async () => {
    const run = await runProgram({ config: base, preview: true, resolve: resolver() });
    for (const image of run.byType(IMAGE)) {
      expect(JSON.stringify(image.inputs)).not.toContain("__pulumiUnknown");
      expect((image.inputs.labels as Record<string, unknown>)[TEMPLATES_LABEL]).toMatch(/^sha256:/);
    }
  });
});

describe("more images are config only", () => {
  it("a third image based on platform gets its repository, tags and the base's digest from config alone", async () => {
    const tenant = {
      name: "tenant",
      repository: "molecule-ai/platform-tenant",
      dockerfile: "workspace-server/Dockerfile.tenant",
      base: "platform",
    };
    const run = await runProgram({ config: withImages([...stagingImages, tenant]), resolve: resolver() });
    expect(run.byType(REPO).map((r) => r.inputs.name)).toContain("molecule-ai/platform-tenant");
    const image = run.one(IMAGE, "tenant-image");
    expect((image.inputs.buildArgs as Record<string, string>).BASE_IMAGE).toBe(
      `${REGISTRY}/molecule-ai/platform@${fakeDigest("platform-image")}`,
    );
    expect(image.inputs.tags).toContain(`${REGISTRY}/molecule-ai/platform-tenant:staging-latest`);
  });
});

describe("config and graph errors stop the program before any resource", () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    [
      "an unknown base",
      {
        "molecule-images:images": JSON.stringify([
          { name: "a", repository: "x/a", dockerfile: "D", base: "nope" },
        ]),
      },
      /images\.a\.base: unknown image "nope"/,
    ],
    [
      "a cycle",
      {
        "molecule-images:images": JSON.stringify([
          { name: "a", repository: "x/a", dockerfile: "D", base: "b" },
          { name: "b", repository: "x/b", dockerfile: "D", base: "a" },
        ]),
      },
      /base cycle a -> b -> a/,
    ],
    [
      "two images sharing a repository",
      {
        "molecule-images:images": JSON.stringify([
          { name: "a", repository: "x/same", dockerfile: "D" },
          { name: "b", repository: "x/same", dockerfile: "D" },
        ]),
      },
      /"a" and "b" share repository x\/same/,
    ],
    [
      "a manifest without the platform-agent template",
      { "molecule-images:manifest": "MANIFEST_NO_AGENT" },
      /no workspace_templates entry "platform-agent", so nothing stages \.tenant-bundle-deps\/workspace-configs-templates\/platform-agent/,
    ],
    [
      "a wrong account id",
      { "molecule-images:registry": JSON.stringify({ type: "ecr", accountId: "123", region: "us-east-2" }) },
      /molecule-images:registry\.accountId: expected a 12-digit AWS account id/,
    ],
    ["an unknown key (a typo)", { "molecule-images:tagPrefx": "x" }, /molecule-images:tagPrefx: unknown key/],
    [
      "a Dockerfile path outside the source root",
      { "molecule-images:images": JSON.stringify([{ name: "a", repository: "x/a", dockerfile: "../D" }]) },
      /images\[0\]\.dockerfile: expected a Dockerfile path inside the source root/,
    ],
  ];
  for (const [what, override, message] of cases) {
    it(`rejects ${what}`, async () => {
      const config = { ...base, ...override };
      if (config["molecule-images:manifest"] === "MANIFEST_NO_AGENT") {
        config["molecule-images:manifest"] = path.join(dir, "manifest-no-agent.json");
      }
      let declared: Declared[] = [];
      await expect(
        runProgram({ config, resolve: (r) => void declared.push(r) }).then((run) => {
          declared = run.resources;
        }),
      ).rejects.toThrow(message);
      expect(declared).toEqual([]);
    });
  }
});

describe("the Dockerfile gate: every preview and up checks the real Dockerfiles before any resource", () => {
  /** A source root of its own, so a test's Dockerfile edits stay its own. */
  const sourceCopy = (from: string, edit?: (root: string) => void) => {
    const root = mkdtempSync(path.join(dir, "gate-"));
    copySource(from, root);
    edit?.(root);
    return root;
  };
  const failingRun = async (config: Record<string, string>) => {
    let declared: Declared[] | undefined;
    const error = await runProgram({ config, resolve: resolver() }).then(
      (run) => {
        declared = run.resources;
        return undefined;
      },
      (err: Error) => err,
    );
    return { error, declared };
  };

  it("the sample platform passes, and GIT_SHA reaches the base image as the commit", async () => {
    const run = await runProgram({ config: base, resolve: resolver() });
    const platform = run.one(IMAGE, "platform-image");
    expect((platform.inputs.buildArgs as Record<string, string>).GIT_SHA).toBe(SHA);
    // The staged manifest is the stack's own, byte for byte (stageManifest).
    expect(readFileSync(path.join(sourceRoot, ".tenant-bundle-deps", "manifest.json"), "utf8")).toBe(
      readFileSync(path.join(dir, "manifest.json"), "utf8"),
    );
  });

  it("lists every problem at once, each naming the image, the Dockerfile and line, and the arg or file; declares nothing", async () => {
    const root = sourceCopy(path.join(PROJECT_DIR, "sample-platform"), (r) => {
      const base = path.join(r, "workspace-server", "Dockerfile");
      // GIT_SHA moved before the first FROM: it no longer reaches the RUN that stamps it.
      writeFileSync(
        base,
        readFileSync(base, "utf8")
          .replace("ARG GIT_SHA=dev\n", "")
          .replace(
            "ARG ROOT_IMAGE=debian:bookworm-slim",
            "ARG ROOT_IMAGE=debian:bookworm-slim\nARG GIT_SHA=dev",
          ),
      );
      const agent = path.join(r, "workspace-server", "Dockerfile.platform-agent");
      writeFileSync(agent, readFileSync(agent, "utf8").replace("mcp_servers.yaml /opt", "mcp.yaml /opt"));
    });
    const images = stagingImages.map((image) =>
      image.name === "platform-agent" ? { ...image, buildArgs: { STRAY: "1" } } : image,
    );
    const { error, declared } = await failingRun({
      ...withImages(images),
      "molecule-images:sourceRoot": root,
    });
    expect(declared).toBeUndefined();
    const agentFile = `${root}/workspace-server/Dockerfile.platform-agent`;
    const baseFile = `${root}/workspace-server/Dockerfile`;
    expect(error?.message).toBe(
      [
        "the Dockerfiles do not match the stack (4 problems); nothing was built:",
        `  - platform: ${baseFile}:11: RUN uses GIT_SHA, but this stage does not declare ARG GIT_SHA; the ARG on line 6 is before the first FROM, where only FROM lines see it, so GIT_SHA is empty here`,
        `  - platform: ${baseFile}:6: build arg GIT_SHA is declared only before the first FROM, where only FROM lines can use it, and no FROM does; no build step ever sees it (declare ARG GIT_SHA inside the stage that needs it)`,
        `  - platform-agent: ${agentFile}:6: build arg STRAY is passed but no ARG STRAY is declared; BuildKit ignores an undeclared build arg`,
        `  - platform-agent: ${agentFile}:11: COPY \${PLATFORM_AGENT_TEMPLATE_DIR}/mcp.yaml: .tenant-bundle-deps/workspace-configs-templates/platform-agent/mcp.yaml is not staged`,
      ].join("\n"),
    );
  });

  it("the platform's own Dockerfiles (their shape at the fix's commit) pass when its manifest pins what is staged", async () => {
    const root = sourceCopy(path.join(PROJECT_DIR, "test", "fixtures", "platform"), (r) =>
      cpSync(path.join(dir, "manifest.json"), path.join(r, "manifest.json")),
    );
    const run = await runProgram({
      config: { ...base, "molecule-images:sourceRoot": root, "molecule-images:stageManifest": "false" },
      resolve: resolver(),
    });
    expect((run.one(IMAGE, "platform-image").inputs.buildArgs as Record<string, string>).GIT_SHA).toBe(SHA);
  });

  it("an image that copies the platform's manifest while carrying other pins fails, listing each entry", async () => {
    const staged = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    const agentRef = staged.workspace_templates[0].ref as string;
    const claimed = {
      ...staged,
      workspace_templates: [{ ...staged.workspace_templates[0], ref: "f".repeat(40) }],
      org_templates: [],
    };
    const root = sourceCopy(path.join(PROJECT_DIR, "test", "fixtures", "platform"), (r) =>
      writeFileSync(path.join(r, "manifest.json"), JSON.stringify(claimed)),
    );
    const { error, declared } = await failingRun({
      ...base,
      "molecule-images:sourceRoot": root,
      "molecule-images:stageManifest": "false",
    });
    expect(declared).toBeUndefined();
    const where = `platform: ${root}/workspace-server/Dockerfile:20: COPY manifest.json: the image would claim pins it does not carry`;
    const ours = path.join(dir, "manifest.json");
    expect(error?.message).toBe(
      [
        "the Dockerfiles do not match the stack (2 problems); nothing was built:",
        `  - ${where}: workspace_templates/platform-agent: ${root}/manifest.json pins ffffffffffff, ${ours} stages ${agentRef.slice(0, 12)}`,
        `  - ${where}: org_templates/org-demo: staged from ${ours} but not listed in ${root}/manifest.json`,
      ].join("\n"),
    );
  });

  it("a Dockerfile that copies the staged manifest needs stageManifest, even with an old copy on disk", async () => {
    // The run before wrote one (stageManifest on); with it off, that file would carry stale pins.
    await runProgram({ config: base, resolve: resolver() });
    const { error, declared } = await failingRun({ ...base, "molecule-images:stageManifest": "false" });
    expect(declared).toBeUndefined();
    expect(error?.message).toContain(
      `platform: ${sourceRoot}/workspace-server/Dockerfile:17: COPY .tenant-bundle-deps/manifest.json: the staged manifest is written only with molecule-images:stageManifest: true`,
    );
  });

  it("an unknown placeholder in a build arg is a config error naming the image and the arg", async () => {
    const images = stagingImages.map((image) =>
      image.name === "platform" ? { ...image, buildArgs: { GIT_SHA: "{sha}" } } : image,
    );
    const { error } = await failingRun(withImages(images));
    expect(error?.message).toContain(
      "molecule-images:images[0].buildArgs.GIT_SHA: unknown placeholder {sha} (expected one of {commit}, {commitShort}, {commitTime})",
    );
  });
});

describe("Pulumi.yaml", () => {
  it("declares every key the program reads, each with a type and a description", () => {
    const project = parse(readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as {
      name: string;
      config: Record<string, { type?: string; description?: string }>;
    };
    expect(project.name).toBe("molecule-images");
    const declared = Object.keys(project.config).map((k) => k.replace(/^molecule-images:/, ""));
    expect(declared.sort()).toEqual(Object.keys(stackConfigSchema.shape).sort());
    for (const [key, decl] of Object.entries(project.config)) {
      expect(decl.type, key).toMatch(/^(string|integer|boolean|array|object)$/);
      expect(decl.description?.length, key).toBeGreaterThan(10);
    }
  });
});
