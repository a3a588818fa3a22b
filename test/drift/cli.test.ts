// `npm run drift` as a user runs it: the real CLI process, the real OCI backend, a real registry on loopback.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertRegistryInstalled,
  deleteManifest,
  type LocalRegistry,
  pushImage,
  startRegistry,
} from "../support/oci-registry";

const PROJECT = path.resolve(__dirname, "..", "..");
const DAY = 86_400_000;
let registry: LocalRegistry;
let dir: string;

function drift(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/drift.ts", ...args], { cwd: PROJECT });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Outputs in the stack's shape for the given images. */
function outputs(file: string, images: Record<string, { repo: string; digest: string }>): string {
  const full = path.join(dir, file);
  const entries = Object.entries(images).map(([name, { repo, digest }]) => {
    const repository = `${registry.host}/${repo}`;
    return [
      name,
      {
        repository,
        ref: `${repository}:staging-abc1234@${digest}`,
        digest,
        tags: [`${repository}:staging-abc1234`, `${repository}:staging-latest`],
      },
    ];
  });
  writeFileSync(full, JSON.stringify({ images: Object.fromEntries(entries) }));
  return full;
}

let fresh: string;
let old: string;

beforeAll(async () => {
  assertRegistryInstalled();
  dir = mkdtempSync(path.join(tmpdir(), "drift-cli-"));
  registry = await startRegistry();
  const now = new Date().toISOString();
  fresh = (
    await pushImage(registry.url, "molecule-ai/platform", {
      tags: ["staging-abc1234", "staging-latest"],
      created: now,
    })
  ).digest;
  old = (
    await pushImage(registry.url, "molecule-ai/stale", {
      tags: ["staging-abc1234", "staging-latest"],
      created: new Date(Date.now() - 40 * DAY).toISOString(),
    })
  ).digest;
  // An orphan: pushed once, its only manifest deleted, so the repository exists and is empty.
  const orphan = await pushImage(registry.url, "molecule-ai/orphan", { tags: ["x"], created: now });
  await deleteManifest(registry.url, "molecule-ai/orphan", orphan.digest);
});

afterAll(async () => {
  await registry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("npm run drift against a real registry", () => {
  it("exit 0 and an ok table when the registry matches the stack", async () => {
    const r = await drift([
      "--outputs",
      outputs("ok.json", { platform: { repo: "molecule-ai/platform", digest: fresh } }),
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/platform\s+127\.0\.0\.1:\d+\/molecule-ai\/platform\s+ok/);
  });

  it("an outputs file that starts with a byte order mark is read as without one", async () => {
    const file = outputs("bom.json", { platform: { repo: "molecule-ai/platform", digest: fresh } });
    writeFileSync(file, `\uFEFF${readFileSync(file, "utf8")}`);
    const r = await drift(["--outputs", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/platform\s+127\.0\.0\.1:\d+\/molecule-ai\/platform\s+ok/);
  });

  it("exit 1 with stale, empty, missing-repository and unmanaged reported; markdown written", async () => {
    const md = path.join(dir, "report.md");
    const file = outputs("drift.json", {
      platform: { repo: "molecule-ai/platform", digest: fresh },
      base: { repo: "molecule-ai/stale", digest: old },
      agent: { repo: "molecule-ai/molecule-platform-agent", digest: fresh },
    });
    const r = await drift(["--outputs", file, "--scan-prefix", "molecule-ai/", "--json", "--markdown", md]);
    expect(r.code).toBe(1);
    const byRepo = Object.fromEntries(
      (JSON.parse(r.stdout).results as Array<{ repository: string; status: string; imageCount: number }>).map(
        (x) => [x.repository.replace(/^[^/]+\//, ""), x],
      ),
    );
    expect(byRepo["molecule-ai/platform"]?.status).toBe("ok");
    expect(byRepo["molecule-ai/stale"]?.status).toBe("stale");
    expect(byRepo["molecule-ai/molecule-platform-agent"]?.status).toBe("missing-repository");
    expect(byRepo["molecule-ai/orphan"]).toMatchObject({ status: "unmanaged", imageCount: 0 });
    expect(readFileSync(md, "utf8")).toContain("**unmanaged**");
  });

  it("exit 2 when there is nothing to check: no images in the outputs, or a scan prefix with no host", async () => {
    const file = path.join(dir, "no-images.json");
    writeFileSync(file, JSON.stringify({ images: {}, repositories: {} }));
    const empty = await drift(["--outputs", file]);
    expect(empty.code).toBe(2);
    expect(empty.stdout).toBe("");
    expect(empty.stderr).toBe(
      "drift: nothing to check: the stack output declares no images (`images` is empty)\n",
    );
    // The registry does hold molecule-ai/ repositories (the orphan): a scan could have found them, but the
    // scan covers the registries of the declared images, and there are none.
    const scan = await drift(["--outputs", file, "--scan-prefix", "molecule-ai/", "--json"]);
    expect(scan.code).toBe(2);
    expect(scan.stdout).toBe("");
    expect(scan.stderr).toBe(
      'drift: nothing to check: the stack output declares no images, and the scan prefix "molecule-ai/" has no registry host to scan (a scan covers the registries of the declared images)\n',
    );
  });

  it("exit 2 when the registry cannot be reached: never 0 for an unchecked repository", async () => {
    const file = outputs("down.json", { platform: { repo: "molecule-ai/platform", digest: fresh } });
    const saved = registry;
    await registry.stop();
    const r = await drift(["--outputs", file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/error/);
    registry = saved;
  });
});
