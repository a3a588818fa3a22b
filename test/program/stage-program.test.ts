// The stager inside the Pulumi program (index.ts -> lib/stack/stage-templates.ts), under Pulumi's mock
// runtime: it must get the GitHub token as the CLI does. A private provider "github" plugin is staged first
// by the CLI; the program's own run then needs MOLECULE_GITHUB_TOKEN to accept it (no network: warm).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSampleRepos } from "../../lib/local/sample-repos";
import { TEMPLATES_DIR } from "../../lib/stack/config-schema";
import { TEMPLATES_LABEL } from "../../lib/stack/image-spec";
import { makeTempDir, removeDir } from "../support/git-fixtures";
import { copySource, PROJECT_DIR, runProgram, stackConfig } from "../support/pulumi-program";
import { outputOf, runStage } from "../support/stage-cli";

const IMAGE = "docker-build:index:Image";
const GH_TOKEN = "ghs-program-5e1c7d";

let dir: string;
let config: Record<string, string>;
let stagedDigest: string;
const saved = process.env.MOLECULE_GITHUB_TOKEN;

beforeAll(async () => {
  dir = await makeTempDir("stage-program-");
  const repos = createSampleRepos(path.join(dir, "git"));
  const manifest: Record<string, unknown[]> = { plugins: [], workspace_templates: [], org_templates: [] };
  for (const r of repos) {
    const github = r.list === "plugins" ? { provider: "github", private: true } : {};
    manifest[r.list]?.push({ name: r.name, repo: r.repo, ref: r.ref, ...github });
  }
  const file = path.join(dir, "manifest.json");
  writeFileSync(file, JSON.stringify({ version: 1, ...manifest }));
  const sourceRoot = path.join(dir, "src");
  copySource(path.join(PROJECT_DIR, "sample-platform"), sourceRoot);
  const gitUrl = `file://${dir}/git`;
  const staged = await runStage(
    [
      ...["--manifest", file, "--dest", path.join(sourceRoot, TEMPLATES_DIR)],
      ...["--git-base-url", gitUrl, "--github-base-url", gitUrl],
    ],
    { env: { MOLECULE_GITHUB_TOKEN: GH_TOKEN } },
  );
  stagedDigest = outputOf(staged).digest;
  config = {
    ...stackConfig("Pulumi.staging.yaml"),
    "molecule-images:manifest": file,
    "molecule-images:gitBaseUrl": gitUrl,
    "molecule-images:sourceRoot": sourceRoot,
    "molecule-images:gitSha": "0123456789abcdef0123456789abcdef01234567",
    // The sample base image copies the staged manifest.
    "molecule-images:stageManifest": "true",
  };
});

afterEach(() => {
  if (saved === undefined) delete process.env.MOLECULE_GITHUB_TOKEN;
  else process.env.MOLECULE_GITHUB_TOKEN = saved;
});

afterAll(async () => {
  if (dir) await removeDir(dir);
});

describe("the program's staging run", () => {
  it("passes MOLECULE_GITHUB_TOKEN on: a private GitHub template is accepted, and the images get its digest", async () => {
    process.env.MOLECULE_GITHUB_TOKEN = GH_TOKEN;
    const run = await runProgram({
      config,
      resolve: (r) => (r.type === IMAGE ? { digest: `sha256:${"e".repeat(64)}`, ref: "r" } : undefined),
    });
    expect(run.errors).toEqual([]);
    const agent = run.one(IMAGE, "platform-agent-image");
    expect((agent.inputs.labels as Record<string, unknown>)[TEMPLATES_LABEL]).toBe(stagedDigest);
  });
});
