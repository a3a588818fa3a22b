// The drift check's own logic: classification, rendering, orchestration and the CLI contract. Registries
// are a scripted RegistryBackend here; the real backends are tested against the AWS SDK mock
// (drift-ecr.test.ts), moto's ECR server (drift-ecr-moto.test.ts) and a real registry (drift-oci.test.ts).
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { checkDrift, parseOutputs } from "../../lib/drift/check";
import { classify, exitCode, tagOf } from "../../lib/drift/classify";
import { runDriftCli } from "../../lib/drift/cli";
import { renderMarkdown, renderTable } from "../../lib/drift/report";
import {
  CheckError,
  type ExpectedImage,
  type RegistryBackend,
  type RepositoryFacts,
} from "../../lib/drift/types";

const NOW = new Date("2026-11-24T00:00:00Z");
const daysAgo = (n: number) => new Date(NOW.getTime() - n * 86_400_000);
const D1 = `sha256:${"1".repeat(64)}`;
const D2 = `sha256:${"2".repeat(64)}`;
const HOST = "127.0.0.1:5000";

const expected = (name: string, digest = D1): ExpectedImage => ({
  name,
  repository: `${HOST}/molecule-ai/${name}`,
  digest,
  tags: [`${HOST}/molecule-ai/${name}:staging-abc1234`, `${HOST}/molecule-ai/${name}:staging-latest`],
});
const facts = (over: Partial<RepositoryFacts> = {}): RepositoryFacts => ({
  exists: true,
  imageCount: 3,
  newestPush: daysAgo(1),
  tags: { "staging-abc1234": D1, "staging-latest": D1 },
  ...over,
});
const opts = { now: NOW, maxAgeDays: 14 };

describe("classify: exactly one status per image, most severe first", () => {
  it("ok, with the counts and age in the detail", () => {
    const r = classify(expected("platform"), facts(), opts);
    expect(r).toMatchObject({ status: "ok", imageCount: 3, expectedDigest: D1, actualDigest: D1 });
  });
  it("missing-repository", () => {
    expect(classify(expected("a"), facts({ exists: false, imageCount: 0 }), opts).status).toBe(
      "missing-repository",
    );
  });
  it("empty: the agent repository that sat at 0 images for weeks", () => {
    const r = classify(expected("a"), facts({ imageCount: 0, tags: {}, newestPush: null }), opts);
    expect(r.status).toBe("empty");
  });
  it("missing-tag names the absent tag", () => {
    const r = classify(expected("a"), facts({ tags: { "staging-latest": D1 } }), opts);
    expect(r).toMatchObject({ status: "missing-tag", detail: "expected tag absent: staging-abc1234" });
  });
  it("digest-drift reports both digests", () => {
    const r = classify(expected("a"), facts({ tags: { "staging-abc1234": D1, "staging-latest": D2 } }), opts);
    expect(r).toMatchObject({ status: "digest-drift", actualDigest: D2, expectedDigest: D1 });
    expect(r.detail).toContain("staging-latest");
  });
  it("stale past the limit, ok at the limit", () => {
    expect(classify(expected("a"), facts({ newestPush: daysAgo(31) }), opts)).toMatchObject({
      status: "stale",
      detail: "newest image pushed 31 days ago (limit 14)",
    });
    expect(classify(expected("a"), facts({ newestPush: daysAgo(14) }), opts).status).toBe("ok");
  });
  it("an unknown age is an error, never ok", () => {
    expect(classify(expected("a"), facts({ newestPush: null }), opts).status).toBe("error");
  });
  it("tagOf handles ports, digests and bare names", () => {
    expect(tagOf("127.0.0.1:5000/a/b:staging-latest")).toBe("staging-latest");
    expect(tagOf("127.0.0.1:5000/a/b:t@sha256:00")).toBe("t");
    expect(tagOf("127.0.0.1:5000/a/b")).toBeUndefined();
  });
  it("exit codes: 0 all ok, 1 any drift, 2 anything unchecked", () => {
    const ok = classify(expected("a"), facts(), opts);
    const stale = classify(expected("b"), facts({ newestPush: daysAgo(40) }), opts);
    const error = classify(expected("c"), facts({ newestPush: null }), opts);
    expect(exitCode([ok])).toBe(0);
    expect(exitCode([ok, stale])).toBe(1);
    expect(exitCode([ok, stale, error])).toBe(2);
  });
});

/** A scripted registry: facts by repository path, or an error to throw. */
function scripted(
  repos: Record<string, RepositoryFacts | Error>,
  delayMs = 0,
): RegistryBackend & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async describe(repository) {
      calls.push(repository);
      await new Promise((r) => setTimeout(r, delayMs));
      const found = repos[repository] ?? facts({ exists: false, imageCount: 0, tags: {}, newestPush: null });
      if (found instanceof Error) throw found;
      return found;
    },
    async list(prefix) {
      return Object.keys(repos).filter((r) => r.startsWith(prefix));
    },
  };
}

describe("checkDrift", () => {
  it("checks declared images, reports unmanaged repositories under the prefix, and errors per repository", async () => {
    const backend = scripted({
      "molecule-ai/platform": facts({ newestPush: daysAgo(30) }),
      "molecule-ai/molecule-platform-agent": facts(),
      "molecule-ai/orphan": facts({ imageCount: 0, tags: {}, newestPush: null }),
      "molecule-ai/broken": new CheckError("registry said 500"),
      "other/ignored": facts(),
    });
    const results = await checkDrift([expected("platform"), expected("molecule-platform-agent")], {
      maxAgeDays: 14,
      scanPrefix: "molecule-ai/",
      now: NOW,
      backendFor: () => backend,
    });
    const byRepo = Object.fromEntries(results.map((r) => [r.repository.replace(`${HOST}/`, ""), r]));
    expect(byRepo["molecule-ai/platform"]?.status).toBe("stale");
    expect(byRepo["molecule-ai/molecule-platform-agent"]?.status).toBe("ok");
    expect(byRepo["molecule-ai/orphan"]).toMatchObject({ status: "unmanaged", imageCount: 0, image: null });
    expect(byRepo["molecule-ai/broken"]).toMatchObject({ status: "error", detail: "registry said 500" });
    expect(byRepo["other/ignored"]).toBeUndefined();
    expect(exitCode(results)).toBe(2);
  });

  it("runs repositories concurrently: 50 at 100 ms each take well under 50 x 100 ms", async () => {
    const repos: Record<string, RepositoryFacts> = {};
    const images = Array.from({ length: 50 }, (_, i) => expected(`img-${i}`));
    for (const image of images) repos[`molecule-ai/${image.name}`] = facts();
    const started = Date.now();
    await checkDrift(images, {
      maxAgeDays: 14,
      now: NOW,
      concurrency: 10,
      backendFor: () => scripted(repos, 100),
    });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("a backend that never settles is cut by the deadline: error, timed out, exit 2; nothing queued starts", async () => {
    const signals: AbortSignal[] = [];
    const hanging: RegistryBackend = {
      describe(_repository, _tags, signal) {
        if (signal) signals.push(signal);
        return new Promise(() => {}); // ignores the signal too: the deadline must not depend on it
      },
      list: () => new Promise(() => {}),
    };
    const started = Date.now();
    const results = await checkDrift([expected("a"), expected("b"), expected("c")], {
      maxAgeDays: 14,
      now: NOW,
      concurrency: 2,
      deadlineMs: 200,
      scanPrefix: "molecule-ai/",
      backendFor: () => hanging,
    });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(results.map((r) => r.status)).toEqual(["error", "error", "error", "error"]);
    for (const r of results)
      expect(r.detail).toMatch(/timed out: the drift check's deadline of 0\.2 s passed/);
    expect(signals).toHaveLength(2); // the third describe was still queued when the deadline passed
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(exitCode(results)).toBe(2);
  });

  it("checking nothing is never a pass: no images throws, and an empty result set exits 2", async () => {
    const backend = scripted({ "molecule-ai/orphan": facts() });
    await expect(checkDrift([], { maxAgeDays: 14, backendFor: () => backend })).rejects.toThrow(
      /nothing to check: the stack output declares no images/,
    );
    await expect(
      checkDrift([], { maxAgeDays: 14, scanPrefix: "molecule-ai/", backendFor: () => backend }),
    ).rejects.toThrow(/the scan prefix "molecule-ai\/" has no registry host to scan/);
    expect(backend.calls).toEqual([]);
    expect(exitCode([])).toBe(2);
  });

  it("rejects outputs that are not the stack's, naming the field", () => {
    expect(() => parseOutputs("{", "o.json")).toThrow(/o\.json: not valid JSON/);
    expect(() =>
      parseOutputs(
        JSON.stringify({ images: { a: { repository: "x", digest: "nope", tags: [] } } }),
        "o.json",
      ),
    ).toThrow(/images\.a\.repository: expected <registry host>\/<repository>/);
  });
});

describe("rendering", () => {
  const results = [
    classify(expected("platform"), facts({ newestPush: daysAgo(31) }), opts),
    classify(expected("molecule-platform-agent"), facts({ imageCount: 0, tags: {}, newestPush: null }), opts),
  ];
  it("an aligned table, coloured only when asked", () => {
    const plain = renderTable(results, false);
    const lines = plain.split("\n");
    expect(lines[0]?.indexOf("STATUS")).toBe(lines[1]?.indexOf("stale"));
    expect(lines[2]?.indexOf("empty")).toBe(lines[1]?.indexOf("stale"));
    expect(plain).not.toContain("\x1b[");
    expect(renderTable(results, true)).toContain("\x1b[31m");
    expect(plain).toContain("2 checked: 1 stale, 1 empty");
  });
  it("markdown for job summaries", () => {
    const md = renderMarkdown(results, { source: "stack staging", maxAgeDays: 14, at: NOW });
    expect(md).toMatch(/^## Image drift: :x: drift found/);
    expect(md).toContain(
      "| molecule-platform-agent | `127.0.0.1:5000/molecule-ai/molecule-platform-agent` | **empty** |",
    );
  });
});

describe("the CLI contract", () => {
  const capture = () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (c: Buffer) => chunks.push(c));
    return { stream: out, text: () => Buffer.concat(chunks).toString("utf8") };
  };
  const dir = mkdtempSync(path.join(tmpdir(), "drift-cli-"));
  const outputs = path.join(dir, "outputs.json");
  writeFileSync(
    outputs,
    JSON.stringify({
      images: {
        platform: expected("platform"),
        "molecule-platform-agent": expected("molecule-platform-agent"),
      },
      repositories: {},
    }),
  );
  const run = async (
    argv: string[],
    backend: RegistryBackend,
    stackOutputs?: (s: string) => Promise<string>,
  ) => {
    const stdout = capture();
    const stderr = capture();
    const code = await runDriftCli(argv, {
      stdout: stdout.stream,
      stderr: stderr.stream,
      backendFor: () => backend,
      now: NOW,
      stackOutputs,
    });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };

  it("--json prints results and a summary; exit 1 on drift; --markdown writes the report", async () => {
    const md = path.join(dir, "report.md");
    const backend = scripted({
      "molecule-ai/platform": facts(),
      "molecule-ai/molecule-platform-agent": facts({ imageCount: 0, tags: {}, newestPush: null }),
    });
    const r = await run(["--outputs", outputs, "--json", "--markdown", md], backend);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json.results[0]).sort()).toEqual(
      [
        "actualDigest",
        "detail",
        "expectedDigest",
        "image",
        "imageCount",
        "newestPush",
        "repository",
        "status",
      ].sort(),
    );
    expect(json.summary).toMatchObject({ total: 2, ok: 1, drift: 1, errors: 0 });
    expect(readFileSync(md, "utf8")).toContain("**empty**");
  });

  it("exit 0 when all ok; --stack reads pulumi stack output", async () => {
    const backend = scripted({
      "molecule-ai/platform": facts(),
      "molecule-ai/molecule-platform-agent": facts(),
    });
    let asked = "";
    const r = await run(["--stack", "staging"], backend, async (stack) => {
      asked = stack;
      return readFileSync(outputs, "utf8");
    });
    expect(asked).toBe("staging");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("2 checked: 2 ok");
  });

  it("exit 2 when a repository could not be checked, and for bad input", async () => {
    const broken = scripted({ "molecule-ai/platform": new CheckError("403 Forbidden from registry") });
    expect((await run(["--outputs", outputs], broken)).code).toBe(2);
    const ok = scripted({});
    expect((await run([], ok)).code).toBe(2);
    expect((await run(["--outputs", path.join(dir, "missing.json")], ok)).stderr).toMatch(
      /cannot read \(ENOENT\)/,
    );
    expect((await run(["--outputs", outputs, "--max-age-days", "soon"], ok)).code).toBe(2);
    expect((await run(["--bogus"], ok)).code).toBe(2);
  });
});
