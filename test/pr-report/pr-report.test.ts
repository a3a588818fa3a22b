// The PR report: rendering from `pulumi preview --json` fixtures (test/fixtures/preview/README.md cites the
// format), secret masking, the comment size limit, and posting against a fake forge on 127.0.0.1 that
// implements the issue-comment endpoints GitHub and Gitea share.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import MarkdownIt from "markdown-it";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../../lib/cli/user-error";
import { nextLink } from "../../lib/http/link";
import { parseManifest } from "../../lib/manifest/contract";
import { runPrReport } from "../../lib/pr-report/cli";
import { formatPropertyPath, parsePropertyPath } from "../../lib/pr-report/diff";
import { ForgeClient, ForgeError } from "../../lib/pr-report/forge";
import { comparePins, pinsFromManifest } from "../../lib/pr-report/pins";
import { parsePreview, sanitizePreview } from "../../lib/pr-report/preview";
import { COMMENT_LIMIT, REPORT_MARKER, type ReportInput, renderReport } from "../../lib/pr-report/render";
import {
  maskText,
  maskValues,
  REDACTED,
  redactValue,
  SECRET_SIG,
  SIG_KEY,
} from "../../lib/pr-report/secrets";
import { lifecyclePolicy } from "../../lib/stack/lifecycle-policy";

const PROJECT = path.resolve(__dirname, "..", "..");
const FIXTURES = path.join(__dirname, "..", "fixtures", "preview");
const fx = (name: string) => path.join(FIXTURES, name);
const TOKEN = "ghs_FixtureTokenValue0123456789abcdef";
const REPO = "molecule-ai/molecule-images";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "pr-report-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The renderer on a fixture, as the CLI would call it (sanitised first). */
function render(file: string, extra: Partial<ReportInput> = {}, masks: string[] = []): string {
  const preview = sanitizePreview(parsePreview(readFileSync(fx(file), "utf8"), file), masks);
  return renderReport({ preview, masks, ...extra });
}

function pinsBetween(base: string, head: string): ReportInput["pins"] {
  const pins = (f: string) => pinsFromManifest(parseManifest(readFileSync(fx(f), "utf8"), f));
  return { changes: comparePins(pins(base), pins(head)), source: "base-manifest" };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI in-process, with its own environment: nothing leaks in from the test runner's. */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _encoding, done) {
        append(String(chunk));
        done();
      },
    });
  const code = await runPrReport(args, {
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    env,
  });
  return { code, stdout, stderr };
}

/** The real `npm run pr-report` command line, as CI runs it. */
function spawnCli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "cli/pr-report.ts", ...args], {
      cwd: PROJECT,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe("rendering", () => {
  it("first run: every resource to create or import is listed, images are new, secrets stay blinded", () => {
    const out = render("create.json");
    expect(out.startsWith(`${REPORT_MARKER}\n`)).toBe(true);
    expect(out).toContain("**14 to create, 2 to import**, 0 unchanged.");
    expect(out).toContain("| import | `aws:ecr/repository:Repository` | `registry-platform-repository` |  |");
    expect(out).toContain("| create | `pulumi-nodejs:dynamic:Resource` | `templates-record` |  |");
    expect(out.match(/^\| (create|import) \|/gm)).toHaveLength(16);
    expect(out).toContain("- **platform** (`platform-image`, create): new image (first build)");
    expect(out).toContain("- **platform-agent** (`platform-agent-image`, create): new image (first build)");
    expect(out).toContain("<details>");
    expect(out).toContain(
      '+ registries: [{"address":"153263036946.dkr.ecr.us-east-2.amazonaws.com","password":"[secret]"',
    );
    expect(out).not.toContain("#### Template pins");
    // The record's inputs are listed, but not the serialised provider the SDK keeps beside them.
    expect(out).toContain(
      '+ digest: "sha256:71467637272c30963e8b3781f9486b955a24adcc6ba73b9cdf7a5587dcc1be94"',
    );
    expect(out).not.toContain("exports.handler");
  });

  it("the real preview of a pin bump (recorded by the real-engine tier) names the pin for both images", () => {
    // docker-build's real detailedDiff names only `labels` and `buildArgs`: the report finds the label inside.
    const out = render("real-pin-bump.json", {
      pins: pinsBetween("manifest-local.json", "manifest-local-bumped.json"),
    });
    expect(out).toContain("**2 to update, 1 to replace**, 4 unchanged.");
    expect(out).toContain("| replace | `pulumi-nodejs:dynamic:Resource` | `templates-record` | `digest` |");
    expect(out).toContain(
      "- **platform** (`platform-image`, update): templates changed: platform-agent 1887cb3 → aaf8d11; build context changed",
    );
    expect(out).toContain(
      "- **platform-agent** (`platform-agent-image`, update): templates changed: platform-agent 1887cb3 → aaf8d11; base image changed; build context changed",
    );
    expect(out).toContain('+ labels["app.molecule.templates.digest"]: "sha256:');
    expect(out).toContain("+ buildArgs.BASE_IMAGE: (known after apply)");
  });

  it("pin bump: the templates record is replaced and each image says why it rebuilds, with the pin that moved", () => {
    const out = render("update-pin-bump.json", {
      pins: pinsBetween("manifest-base.json", "manifest-pin-bump.json"),
    });
    expect(out).toContain("**2 to update, 1 to replace**, 13 unchanged.");
    expect(out).toContain("| replace | `pulumi-nodejs:dynamic:Resource` | `templates-record` | `digest` |");
    expect(out).toContain(
      "| update | `docker-build:index:Image` | `platform-agent-image` | `buildArgs`, `contextHash`, `labels`, `tags` |",
    );
    expect(out).toContain(
      "- **platform** (`platform-image`, update): templates changed: platform-agent e5c8302 → 1a2b3c4; build context changed; tags changed (new commit a1b2c3d)",
    );
    expect(out).toContain(
      "- **platform-agent** (`platform-agent-image`, update): templates changed: platform-agent e5c8302 → 1a2b3c4; base image changed; build context changed; tags changed (new commit a1b2c3d)",
    );
    expect(out).toContain(
      "| `workspace_templates/platform-agent` | molecule-ai/molecule-ai-workspace-template-platform-agent | `e5c8302` → `1a2b3c4` |",
    );
    expect(out).toContain("- **warning** `templates`: staging: workspace_templates/platform-agent: fetched");
    // The diff rendered from detailedDiff: quoted label paths, unknowns named. The record's digest is known
    // in a preview (a dynamic provider hands its inputs back as its outputs), so the label shows it.
    expect(out).toContain(
      '+ labels["app.molecule.templates.digest"]: "sha256:6e14989f395e80d06e4eb44c864a406eb1029f3bea7ac5063ab9ebdf3899f010"',
    );
    expect(out).toContain("+ buildArgs.BASE_IMAGE: (known after apply)");
    // The record's provider gives no detailedDiff: its replace reasons stand in, old and new.
    expect(out).toMatch(/\+ digest: "sha256:[0-9a-f]{64}" \(forces replacement\)/);
  });

  it("pin bump with --manifest only: the base pins come from what the templates record last recorded", async () => {
    const run = await cli([
      "--preview-json",
      fx("update-pin-bump.json"),
      "--manifest",
      fx("manifest-pin-bump.json"),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Compared with the pins the stack last recorded");
    expect(run.stdout).toContain("templates changed: platform-agent e5c8302 → 1a2b3c4;");
    expect(run.stdout).toContain("`e5c8302` → `1a2b3c4`");
  });

  it.each([
    ["another dynamic resource", "::templates-record", "::other-record"],
    ["a resource of another type", "$pulumi-nodejs:dynamic:Resource", "$command:local:Command"],
  ])("the recorded pins come from the templates record only, not %s", async (_what, from, to) => {
    const file = path.join(dir, "not-the-record.json");
    let text = readFileSync(fx("update-pin-bump.json"), "utf8").replaceAll(from, to);
    if (to.includes("Command"))
      text = text.replaceAll('"pulumi-nodejs:dynamic:Resource"', '"command:local:Command"');
    writeFileSync(file, text);
    const run = await cli(["--preview-json", file, "--manifest", fx("manifest-pin-bump.json")]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("the preview holds no pins the stack recorded.");
    expect(run.stdout).not.toContain("Compared with the pins the stack last recorded");
  });

  it("replacement steps fold into one row; sames are counted, not listed", () => {
    const out = render("replace-record.json");
    const rows = out.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Op"));
    expect(rows).toEqual([
      "| replace | `pulumi-nodejs:dynamic:Resource` | `templates-record` | `digest` |",
      "| update | `docker-build:index:Image` | `platform-image` | `contextHash`, `labels` |",
      "| update | `docker-build:index:Image` | `platform-agent-image` | `buildArgs`, `contextHash`, `labels` |",
    ]);
    expect(out).toContain("**2 to update, 1 to replace**, 13 unchanged.");
    expect(out).not.toContain("molecule-images-staging");
    // No manifests given: the templates reason still shows, from the label.
    expect(out).toContain("- **platform** (`platform-image`, update): templates changed (staged digest)");
    expect(out).toContain("templates changed (staged digest); base image changed");
    // The folded replacement shows once in the diff, old and new.
    expect(out.match(/^@@ replace pulumi-nodejs:dynamic:Resource templates-record @@$/gm)).toHaveLength(1);
  });

  it("a long value is shown from where it changes, not cut before it", () => {
    // The lifecycle policy is one JSON string: keepTaggedImages 50 → 60 changes it near the end.
    const policy = (keep: number) =>
      JSON.stringify(
        lifecyclePolicy({ tagPrefix: "staging", untaggedExpireDays: 7, keepTaggedImages: keep }),
      );
    const urn =
      "urn:pulumi:staging::molecule-images::molecule:index:EcrRegistry$molecule:index:ImageRepository$aws:ecr/lifecyclePolicy:LifecyclePolicy::registry-platform-lifecycle";
    const state = (keep: number) => ({
      urn,
      custom: true,
      type: "aws:ecr/lifecyclePolicy:LifecyclePolicy",
      inputs: { policy: policy(keep), repository: "molecule-ai/platform" },
    });
    const step = { op: "update", urn, oldState: state(50), newState: state(60), diffReasons: ["policy"] };
    const detailedDiff = { policy: { inputDiff: false, kind: "update" } };
    const text = JSON.stringify({
      steps: [{ ...step, detailedDiff }],
      changeSummary: { same: 15, update: 1 },
    });
    const out = renderReport({ preview: sanitizePreview(parsePreview(text, "policy.json"), []) });
    const line = (sign: string) => out.split("\n").find((l) => l.startsWith(`${sign} policy: `));
    expect(policy(60).length).toBeGreaterThan(160);
    expect(line("-")).toMatch(/^- policy: "….*Keep the last 50 staging- images/);
    expect(line("+")).toMatch(/^\+ policy: "….*Keep the last 60 staging- images/);
  });

  it("pin changes: bumped, added and removed entries, old → new in 7 characters", () => {
    const out = render("update-pin-bump.json", {
      pins: pinsBetween("manifest-base.json", "manifest-pins-mixed.json"),
    });
    expect(out).toContain("| `plugins/ecc` | molecule-ai/molecule-ai-plugin-ecc | `4df7e4c` → `5ef0a1b` |");
    expect(out).toContain(
      "| `workspace_templates/hermes` | molecule-ai/molecule-ai-workspace-template-hermes | added at `ca7e1ef` |",
    );
    expect(out).toContain(
      "| `workspace_templates/codex` | molecule-ai/molecule-ai-workspace-template-codex | removed (was `070447a`) |",
    );
    expect(out).toContain(
      "templates changed: ecc 4df7e4c → 5ef0a1b, platform-agent e5c8302 → 1a2b3c4, +hermes ca7e1ef, −codex 070447a;",
    );
  });

  it("no change: says so plainly, with no table and no diff", () => {
    const out = render("no-change.json", { pins: pinsBetween("manifest-base.json", "manifest-base.json") });
    expect(out).toContain(
      "**No changes.** Nothing will be created, updated, replaced or deleted (16 resources unchanged), and no image will be rebuilt.",
    );
    expect(out).toContain("No template pin changed.");
    expect(out).not.toContain("#### Resources");
    expect(out).not.toContain("<details>");
  });

  it("a failed preview says so instead of claiming no changes", () => {
    const preview = parsePreview(
      JSON.stringify({
        diagnostics: [
          { message: "program failed:\nTypeError: x is undefined\n", severity: "error" },
          { message: "console output\n", severity: "info" },
        ],
      }),
      "failed.json",
    );
    const out = renderReport({ preview });
    expect(out).toContain("**The preview failed** with 1 error");
    expect(out).not.toContain("No changes");
    expect(out).toContain("- **error**: program failed: TypeError: x is undefined");
    expect(out).not.toContain("console output");
  });

  it("property paths parse and print the way Pulumi spells them", () => {
    expect(parsePropertyPath('labels["app.molecule.templates.digest"]')).toEqual([
      "labels",
      "app.molecule.templates.digest",
    ]);
    expect(parsePropertyPath("buildArgs.BASE_IMAGE")).toEqual(["buildArgs", "BASE_IMAGE"]);
    expect(parsePropertyPath('registries[0].password["a\\"b"]')).toEqual([
      "registries",
      0,
      "password",
      'a"b',
    ]);
    expect(formatPropertyPath(["labels", "org.opencontainers.image.revision"])).toBe(
      'labels["org.opencontainers.image.revision"]',
    );
  });

  it("bad input is rejected with the file named; streamed engine events are explained", () => {
    expect(() => parsePreview('{"steps": {}}', "p.json")).toThrow(
      /p\.json: not a pulumi preview --json document: \.steps/,
    );
    expect(() => parsePreview("", "p.json")).toThrow(UserError);
    expect(() =>
      parsePreview('{"sequence":0,"timestamp":1}\n{"sequence":1,"timestamp":1}', "p.json"),
    ).toThrow(/PULUMI_ENABLE_STREAMING_JSON_PREVIEW/);
  });
});

describe("hostile names render as text", () => {
  // A real CommonMark + GFM-tables renderer with raw HTML allowed, as the forges render comments.
  const md = new MarkdownIt({ html: true });
  const decode = (html: string) =>
    html
      .replace(/<[^>]+>/g, "")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, "&");
  const codes = (html: string) =>
    [...html.matchAll(/<code>([\s\S]*?)<\/code>/g)].map((m) => decode(m[1] ?? ""));
  /** What a reader sees outside code: where a mention, a link or markup would act. */
  const prose = (html: string) => html.replace(/<pre>[\s\S]*?<\/pre>|<code>[\s\S]*?<\/code>/g, "");

  it("names, types, property paths, values and diagnostics: no mention, no markup, no split row, no closed fence", async () => {
    // The templates record's recorded pins hold a hostile name too (they come from the preview, not the manifest).
    const run = await cli([
      "--preview-json",
      fx("hostile-names.json"),
      "--manifest",
      fx("manifest-local.json"),
    ]);
    expect(run.code).toBe(0);
    const html = md.render(run.stdout);

    // Our own <details> and nothing a value brought; no element a value spelled.
    expect(html.match(/<details>/g)).toHaveLength(1);
    expect(html.match(/<\/details>/g)).toHaveLength(1);
    expect(html).not.toMatch(/<(img|a|b|summary>x)\b/);
    expect(html).not.toContain("<strong>bold</strong>");
    expect(html).not.toMatch(/<(em|s|del)>/);
    // Nobody is mentioned: every "@" outside code is followed by a zero-width joiner.
    expect(prose(html)).not.toMatch(/@[A-Za-z0-9]/);
    // Nothing invisible reaches the reader.
    expect(run.stdout).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);

    // Every table row has exactly its columns, and the names in them are whole.
    for (const table of html.match(/<table>[\s\S]*?<\/table>/g) ?? []) {
      const rows = table.match(/<tr>[\s\S]*?<\/tr>/g) ?? [];
      const widths = new Set(rows.map((r) => (r.match(/<t[dh]\b/g) ?? []).length));
      expect(widths.size).toBe(1);
    }
    const inCode = codes(html);
    expect(inCode).toContain("@octocat <details>|`x`");
    expect(inCode).toContain("evil:index:T|<b>x</b>");
    expect(inCode).toContain("rtl\\u202eevil``s\\n\\n<details>");
    expect(inCode).toContain("plugins/@octocat <details>|x");
    expect(html).toMatch(
      /<td><code>plugins\/@octocat &lt;details&gt;\|x<\/code><\/td>\s*<td><\/td>\s*<td>removed/,
    );

    // Prose reads as the characters given (less the joiners).
    const seen = decode(prose(html)).replace(/\u200d/g, "");
    expect(seen).toContain("@mallory **bold** <img src=x onerror=alert(1)> (, update)");
    expect(seen).toContain("build args changed: A|B`C @team; inputs changed: labels, @evil <x>");
    expect(seen).toContain("−@octocat <details>|x abc1234");
    expect(seen).toContain(
      "@octocat see <details><summary>x</summary> [click](https://evil.example) ![t](https://evil.example/t.png) &#64;team $x$ **bold** | pipe `code` _em_ ~~gone~~",
    );

    // The diff stays one block inside our <details>, every line of it, whatever backticks the values hold.
    const blocks = [
      ...html.matchAll(/<pre><code class="language-diff">([\s\S]*?)<\/code><\/pre>\s*<\/details>/g),
    ];
    expect(blocks).toHaveLength(1);
    const diff = decode(blocks[0]?.[1] ?? "")
      .trimEnd()
      .split("\n");
    expect(diff).toHaveLength(11);
    expect(diff[0]).toBe("@@ update docker-build:index:Image @octocat <details>|`x` @@");
    expect(diff).toContain('+ labels["@octocat <details>"]: "````\\n```\\n</details>\\n@octocat"');
    expect(diff).toContain('+ buildArgs["A|B`C @team"]: "new \\u202e evil"');
    expect(diff.at(-2)).toBe("@@ create evil:index:T|<b>x</b> rtl\\u202eevil``s\\n\\n<details> @@");
    expect(diff.at(-1)).toBe('+ @octocat <details>: "</details>\\n\\n@octocat ``````"');
  });

  it("a --diff-text with colour codes, bidi characters and fences stays one readable block", () => {
    const diffText = "\x1b[31m- a: 1\x1b[0m\r\n+ b: ``````\n+ c: \u202ereversed\n```\n</details>";
    const html = md.render(render("replace-record.json", { diffText }));
    const blocks = [
      ...html.matchAll(/<pre><code class="language-diff">([\s\S]*?)<\/code><\/pre>\s*<\/details>/g),
    ];
    expect(blocks).toHaveLength(1);
    expect(
      decode(blocks[0]?.[1] ?? "")
        .trimEnd()
        .split("\n"),
    ).toEqual(["- a: 1", "+ b: ``````", "+ c: \\u202ereversed", "```", "</details>"]);
  });
});

describe("comment size limit", () => {
  it("a huge diff is truncated first: under the limit, marker and every other section kept, truncation said", async () => {
    const line = (i: number) => `    ~ docker-build:index:Image: (update) line ${i} ${"x".repeat(60)}`;
    const file = path.join(dir, "huge.diff.txt");
    writeFileSync(file, Array.from({ length: 30_000 }, (_, i) => line(i)).join("\n"));
    const run = await cli([
      "--preview-json",
      fx("update-pin-bump.json"),
      "--manifest",
      fx("manifest-pin-bump.json"),
      "--base-manifest",
      fx("manifest-base.json"),
      "--diff-text",
      file,
    ]);
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(out.length).toBeGreaterThan(COMMENT_LIMIT - 500);
    expect(out.startsWith(REPORT_MARKER)).toBe(true);
    expect(out).toMatch(/<summary>Full diff \(truncated: \d+ of 30000 lines\)<\/summary>/);
    expect(out).toContain("The diff was truncated to fit the comment size limit");
    expect(out).toContain(line(0));
    expect(out).not.toContain(line(29_999));
    // Nothing else was cut.
    expect(out).toContain("| replace | `pulumi-nodejs:dynamic:Resource` | `templates-record` | `digest` |");
    expect(out).toContain("templates changed: platform-agent e5c8302 → 1a2b3c4");
    expect(out).toContain("`e5c8302` → `1a2b3c4`");
    expect(out).not.toContain("not shown (comment size limit)");
    expect(out.trimEnd().endsWith("</details>")).toBe(true);
  });

  it("when the diff alone is not enough, rows go next, image reasons last", () => {
    const out = render("create.json", { limit: 1500 });
    expect(out.length).toBeLessThanOrEqual(1500);
    expect(out.startsWith(REPORT_MARKER)).toBe(true);
    expect(out).toContain("is too large for a comment and was left out");
    expect(out).toMatch(/_…\d+ more resources not shown \(comment size limit\)\._/);
    expect(out).toContain("- **platform-agent** (`platform-agent-image`, create): new image (first build)");
  });

  it("a diff holding a code fence cannot close the collapsed block early", () => {
    const out = render("no-change.json");
    expect(out).not.toContain("```");
    const withFence = render("replace-record.json", { diffText: "+ a\n```\n- b" });
    expect(withFence).toContain("````diff\n+ a\n```\n- b\n````");
  });
});

describe("secrets", () => {
  it("masks MOLECULE_GITHUB_TOKEN by default, bare and in the stager's GitHub header form", () => {
    const token = "ghs_GithubEntryToken0123";
    const header = Buffer.from(`x-access-token:${token}`).toString("base64");
    const out = maskText(
      `token ${token}\nAuthorization: Basic ${header}`,
      maskValues({ MOLECULE_GITHUB_TOKEN: token }),
    );
    expect(out).not.toContain(token);
    expect(out).not.toContain(header);
  });

  it("masks URL passwords, Docker config auth values, *_AUTH keys and the stager's base64 header form", () => {
    const token = "gta_HeaderFormToken0123";
    const masks = maskValues({ MOLECULE_GITEA_TOKEN: token });
    const header = Buffer.from(`oauth2:${token}`).toString("base64");
    const text = [
      "fatal: unable to access 'https://ci-bot:hunter2-pass@git.example.test/o/r.git/'",
      '{"auths":{"reg.example.test":{"auth":"dXNlcjpzM2NyM3Q="}}}',
      'config: "{\\"auths\\":{\\"r\\":{\\"auth\\":\\"dXNlcjpzM2NyM3Q=\\"}}}"',
      `http.extraHeader=Authorization: Basic ${header}`,
    ].join("\n");
    const out = maskText(text, masks);
    for (const secret of ["hunter2-pass", "dXNlcjpzM2NyM3Q=", header, token])
      expect(out).not.toContain(secret);
    expect(out).toContain("https://ci-bot:[secret]@git.example.test/o/r.git/");
    expect(out).toContain('"auth":"[secret]"');
    // Keys: *_AUTH and auth are secret, author is not.
    expect(redactValue({ NPM_AUTH: "x", registry_auth: "y", auth: "z", author: "octo" }, [])).toEqual({
      NPM_AUTH: REDACTED,
      registry_auth: REDACTED,
      auth: REDACTED,
      author: "octo",
    });
  });

  it("masks a URL password that holds an unescaped @, whole", () => {
    const out = maskText("fatal: unable to access 'https://ci-bot:s3cr@tpass@git.example.test/o/r.git/'", []);
    expect(out).toBe("fatal: unable to access 'https://ci-bot:[secret]@git.example.test/o/r.git/'");
    // Quotes end a URL: the next one is not eaten.
    expect(maskText('"https://u:pw@a.test/x","b@c.test"', [])).toBe(
      '"https://u:[secret]@a.test/x","b@c.test"',
    );
  });

  it("masks a token's base64 whatever the user beside it, padded or not, standard or URL-safe", () => {
    const token = "gta_AnyUserForm0123456789abcdefXYZ";
    const masks = maskValues({ MOLECULE_GITEA_TOKEN: token });
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const forms = [
      `oauth2:${token}`,
      `x-access-token:${token}`,
      `${token}:x-oauth-basic`,
      `ci-bot:${token}`,
      `ab:${token}`,
      `a:${token}`,
      token,
    ];
    for (const form of forms) {
      // What may stay: the encoding of the user (or suffix) beside the token, and a character or two where
      // their bits meet the token's, plus padding.
      const before = Math.floor((8 * form.indexOf(token)) / 6) + 1;
      const after = Math.ceil((8 * (form.length - form.indexOf(token) - token.length)) / 6) + 3;
      for (const encoded of [
        b64(form),
        b64(form).replace(/=+$/, ""),
        Buffer.from(form).toString("base64url"),
      ]) {
        for (const out of [maskText(`Basic ${encoded}`, masks), maskText(`{"id":"${encoded}"}`, masks)]) {
          const m = /^(?:Basic |\{"id":")([A-Za-z0-9+/_-]*)\[secret\]([A-Za-z0-9+/_=-]*)(?:"\})?$/.exec(out);
          expect(m, `${form}: ${out}`).not.toBeNull();
          expect(m?.[1]?.length ?? 0, form).toBeLessThanOrEqual(before);
          expect(m?.[2]?.length ?? 0, form).toBeLessThanOrEqual(after);
        }
      }
    }
    // The stager's own header is masked whole.
    expect(maskText(`Authorization: Basic ${b64(`oauth2:${token}`)}`, masks)).toBe(
      "Authorization: Basic [secret]",
    );
  });

  it("masks values under secret-looking keys in text too: env lines, YAML, JSON, query strings, diff arrows", () => {
    const text = [
      "NPM_AUTH=bnBtOnMzY3IzdA==",
      'export registry_auth="quoted value"',
      "  password: hunter2",
      '  ~ dbPassword: "old-pass" => "new-pass"',
      '{"apiKey": "k-123", "name": "kept", "token":"t-456"}',
      'msg: "{\\"password\\":\\"esc-789\\"}"',
      "GET https://x.test/cb?access_token=qs-000&page=2",
      "curl --password=flag-111 -H 'Authorization: Bearer bearer-222'",
      "author: octocat",
    ].join("\n");
    const out = maskText(text, []);
    for (const secret of [
      "bnBtOnMzY3IzdA",
      "quoted value",
      "hunter2",
      "old-pass",
      "new-pass",
      "k-123",
      "t-456",
      "esc-789",
      "qs-000",
      "flag-111",
      "bearer-222",
    ]) {
      expect(out, secret).not.toContain(secret);
    }
    expect(out).toContain('  ~ dbPassword: "[secret]" => "[secret]"');
    expect(out).toContain('"name": "kept"');
    expect(out).toContain("&page=2");
    expect(out).toContain("Authorization: Bearer [secret]");
    expect(out).toContain("author: octocat");
  });

  it("a secret-keyed value in --diff-text and in a diagnostic never reaches the report", async () => {
    const file = path.join(dir, "keyed.diff.txt");
    writeFileSync(file, '    ~ environment: {\n        + NPM_AUTH: "npm-auth-value-333"\n      }\n');
    const preview = path.join(dir, "keyed.json");
    const json = JSON.parse(readFileSync(fx("update-pin-bump.json"), "utf8"));
    json.diagnostics = [
      { severity: "warning", message: "npm ERR! registry_auth=diag-auth-value-444 rejected\n" },
    ];
    writeFileSync(preview, JSON.stringify(json));
    const run = await cli(["--preview-json", preview, "--diff-text", file]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain("npm-auth-value-333");
    expect(run.stdout).not.toContain("diag-auth-value-444");
    expect(run.stdout).toContain('+ NPM_AUTH: "[secret]"');
  });

  const leaks = [
    TOKEN,
    "eyJwYXlsb2FkIjoiT0xEX0VDUl9QQVNTV09SRF9oaWRkZW4ifQ", // the password inside the secret envelope
    "npm_FixtureNotMarkedSecret42", // under a secret-looking key, not marked by Pulumi
    "gta_FixtureGiteaTokenNotMarked",
    "AAABAF1x0fixtureciphertext",
  ];

  it("secret-wrapped and secret-keyed values and the CI token never appear (rendered diff)", async () => {
    const run = await cli(["--preview-json", fx("secrets.json")], { GITHUB_TOKEN: TOKEN });
    expect(run.code).toBe(0);
    for (const leak of leaks) expect(run.stdout).not.toContain(leak);
    expect(run.stdout).toContain("- registries[0].password: [secret]");
    expect(run.stdout).toContain("+ secrets.npm_token: [secret]");
    expect(run.stdout).toContain("- registries[1].password: [secret]");
    // In prose, a zero-width joiner after "@" keeps the forge from reading a mention.
    expect(run.stdout).toContain("https://x-access-token:[secret]@\u200dgit.moleculesai.app");
  });

  it("the CI token is masked in --diff-text too", async () => {
    const run = await cli(["--preview-json", fx("secrets.json"), "--diff-text", fx("secrets.diff.txt")], {
      GITHUB_TOKEN: TOKEN,
    });
    expect(run.code).toBe(0);
    expect(readFileSync(fx("secrets.diff.txt"), "utf8")).toContain(TOKEN);
    for (const leak of leaks) expect(run.stdout).not.toContain(leak);
    expect(run.stdout).toContain('http.extraHeader="Authorization: token [secret]"');
  });

  it("--mask-env names more variables to mask; the defaults stay masked", async () => {
    const file = path.join(dir, "deploy.diff.txt");
    writeFileSync(file, `+ deploy key: s3cr3t-deploy-value\n+ gitea: gta_default_masked_value\n`);
    const args = ["--preview-json", fx("update-pin-bump.json"), "--diff-text", file];
    const env = { DEPLOY_KEY: "s3cr3t-deploy-value", MOLECULE_GITEA_TOKEN: "gta_default_masked_value" };
    const plain = await cli(args, env);
    expect(plain.stdout).toContain("s3cr3t-deploy-value");
    expect(plain.stdout).not.toContain("gta_default_masked_value");
    const masked = await cli([...args, "--mask-env", "DEPLOY_KEY"], env);
    expect(masked.stdout).not.toContain("s3cr3t-deploy-value");
    expect(masked.stdout).toContain("+ deploy key: [secret]");
  });

  it("redactValue blinds envelopes and secret-looking keys at any depth", () => {
    const value = {
      a: { [SIG_KEY]: SECRET_SIG, plaintext: '"p"' },
      nested: [{ dbPassword: 1, name: "ok" }],
      Authorization: "token abc",
    };
    expect(redactValue(value, [])).toEqual({
      a: REDACTED,
      nested: [{ dbPassword: REDACTED, name: "ok" }],
      Authorization: REDACTED,
    });
  });
});

/** A forge on loopback: GitHub's/Gitea's issue-comment endpoints over an in-memory store. */
interface FakeForge {
  url: string;
  comments: Array<{ id: number; body: string; user?: { login: string } }>;
  /** Who the token is: the author of what it posts, and who may edit a comment (a forge's own rule). */
  poster: string;
  /** GET /user: the token's login, or a refusal (GitHub's job token gets 403). */
  self: { login: string } | { status: number };
  requests: Array<{ method: string; path: string; query: URLSearchParams; auth?: string; accept?: string }>;
  /** GitHub sends Link headers; this turns them off to exercise page/per_page until a short page. */
  linkHeaders: boolean;
  /** Answer this method with this status (and a body echoing the token, to prove it is masked). */
  failOn?: { method: string; status: number };
  close: () => Promise<void>;
}

const PREFIX = "/api/v1";
/** The author of a comment posted with GitHub Actions' job token. */
const BOT = "github-actions[bot]";

async function startForge(): Promise<FakeForge> {
  let nextId = 1000;
  const forge: FakeForge = {
    url: "",
    comments: [],
    poster: BOT,
    self: { status: 403 },
    requests: [],
    linkHeaders: true,
    close: async () => {},
  };
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", forge.url);
      forge.requests.push({
        method: req.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        auth: req.headers.authorization,
        accept: req.headers.accept,
      });
      if (req.headers.authorization !== `token ${TOKEN}`)
        return send(res, 401, { message: "Bad credentials" });
      if (forge.failOn && forge.failOn.method === req.method) {
        return send(res, forge.failOn.status, {
          message: `Resource not accessible by integration (token ${TOKEN})`,
        });
      }
      if (url.pathname === `${PREFIX}/user` && req.method === "GET") {
        return "login" in forge.self
          ? send(res, 200, { login: forge.self.login, id: 1 })
          : send(res, forge.self.status, { message: "Resource not accessible by integration" });
      }
      const list = new RegExp(`^${PREFIX}/repos/${REPO}/issues/(\\d+)/comments$`).exec(url.pathname);
      const one = new RegExp(`^${PREFIX}/repos/${REPO}/issues/comments/(\\d+)$`).exec(url.pathname);
      if (list && req.method === "GET") {
        // GitHub reads per_page (max 100), Gitea reads limit (max 50 by default).
        const size = Math.min(
          Number(url.searchParams.get("per_page") ?? url.searchParams.get("limit") ?? 30),
          100,
        );
        const page = Number(url.searchParams.get("page") ?? 1);
        const items = forge.comments.slice((page - 1) * size, page * size);
        const headers: Record<string, string> = {};
        const last = Math.max(1, Math.ceil(forge.comments.length / size));
        if (forge.linkHeaders) {
          const at = (p: number) => {
            const u = new URL(url);
            u.searchParams.set("page", String(p));
            return `<${u}>`;
          };
          const links = [`${at(last)}; rel="last"`];
          if (page < last) links.unshift(`${at(page + 1)}; rel="next"`);
          headers.Link = links.join(", ");
        }
        return send(res, 200, items, headers);
      }
      if (list && req.method === "POST") {
        const comment = {
          id: nextId++,
          body: (JSON.parse(raw) as { body: string }).body,
          user: { login: forge.poster },
        };
        forge.comments.push(comment);
        return send(res, 201, { ...comment, html_url: `${forge.url}/pr/${list[1]}#c${comment.id}` });
      }
      if (one && req.method === "PATCH") {
        const comment = forge.comments.find((c) => c.id === Number(one[1]));
        if (!comment) return send(res, 404, { message: "Not Found" });
        // Both forges let a token edit only its own comments (short of admin rights).
        if (comment.user?.login.toLowerCase() !== forge.poster.toLowerCase())
          return send(res, 403, { message: "Forbidden" });
        comment.body = (JSON.parse(raw) as { body: string }).body;
        return send(res, 200, { ...comment, html_url: `${forge.url}/pr#c${comment.id}` });
      }
      return send(res, 404, { message: "Not Found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  forge.url = `http://127.0.0.1:${port}`;
  forge.close = () => new Promise((resolve) => server.close(() => resolve()));
  return forge;
}

describe("--post", () => {
  let forge: FakeForge;
  const env = () => ({
    GITHUB_API_URL: `${forge.url}${PREFIX}`,
    GITHUB_REPOSITORY: REPO,
    GITHUB_TOKEN: TOKEN,
  });
  const marked = () => forge.comments.filter((c) => c.body.startsWith(REPORT_MARKER));

  beforeAll(async () => {
    forge = await startForge();
  });
  afterEach(() => {
    forge.comments = [];
    forge.requests = [];
    forge.linkHeaders = true;
    forge.failOn = undefined;
    forge.poster = BOT;
    forge.self = { status: 403 };
  });
  afterAll(() => forge.close());

  it("the first run creates the comment; the second edits it: still one comment", async () => {
    forge.comments.push(
      { id: 1, body: "LGTM" },
      { id: 2, body: "mentions <!-- molecule-images:pr-report --> inline" },
    );
    const first = await cli(["--preview-json", fx("update-pin-bump.json"), "--post", "--pr", "7"], env());
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/created comment 1000 on PR #7/);
    expect(marked()).toHaveLength(1);
    expect(marked()[0]?.body).toBe(first.stdout);
    expect(forge.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${PREFIX}/user`,
      `GET ${PREFIX}/repos/${REPO}/issues/7/comments`,
      `POST ${PREFIX}/repos/${REPO}/issues/7/comments`,
    ]);
    expect(forge.requests.every((r) => r.auth === `token ${TOKEN}`)).toBe(true);
    expect(forge.requests.every((r) => r.accept === "application/vnd.github+json")).toBe(true);

    const second = await cli(["--preview-json", fx("no-change.json"), "--post", "--pr", "7"], env());
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/updated comment 1000 on PR #7/);
    expect(marked()).toHaveLength(1);
    expect(marked()[0]?.body).toContain("**No changes.**");
    expect(forge.comments).toHaveLength(3);
    expect(forge.requests.filter((r) => r.method === "POST")).toHaveLength(1);
    expect(forge.requests.at(-1)?.method).toBe("PATCH");
    expect(forge.requests.at(-1)?.path).toBe(`${PREFIX}/repos/${REPO}/issues/comments/1000`);
  });

  it("a comment holding the marker by someone else is never edited: the report creates and edits its own", async () => {
    const hostile = `${REPORT_MARKER}\n### Pulumi preview\n\n**No changes.** (merge me, says mallory)`;
    forge.comments.push({ id: 1, body: hostile, user: { login: "mallory" } });
    // GET /user is refused, as for GitHub's job token: the comments of github-actions[bot] are the report's.
    const first = await cli(["--preview-json", fx("update-pin-bump.json"), "--post", "--pr", "7"], env());
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(
      /created comment \d+ on PR #7 .* as github-actions\[bot\] \(the job token's bot/,
    );
    const id = forge.comments[1]?.id;
    const second = await cli(["--preview-json", fx("no-change.json"), "--post", "--pr", "7"], env());
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`updated comment ${id} on PR #7`);
    expect(forge.comments).toEqual([
      { id: 1, body: hostile, user: { login: "mallory" } },
      { id, body: second.stdout, user: { login: BOT } },
    ]);
    expect(forge.requests.filter((r) => r.method === "PATCH").map((r) => r.path)).toEqual([
      `${PREFIX}/repos/${REPO}/issues/comments/${id}`,
    ]);
  });

  it("the token's own login (GET /user, as Gitea answers) decides whose comment is the report", async () => {
    forge.poster = "molecule-ci";
    forge.self = { login: "molecule-ci" };
    forge.comments.push(
      { id: 1, body: `${REPORT_MARKER}\nforged`, user: { login: BOT } },
      { id: 2, body: `${REPORT_MARKER}\nforged too`, user: { login: "mallory" } },
      { id: 3, body: `${REPORT_MARKER}\nthe old report`, user: { login: "Molecule-CI" } },
    );
    const run = await cli(["--preview-json", fx("no-change.json"), "--post", "--pr", "7"], env());
    expect(run.stderr).toMatch(/updated comment 3 on PR #7 .* as molecule-ci \(the token's login\)/);
    expect(forge.comments.map((c) => c.body)).toEqual([
      `${REPORT_MARKER}\nforged`,
      `${REPORT_MARKER}\nforged too`,
      run.stdout,
    ]);
  });

  it("under Gitea Actions a refused GET /user means gitea-actions; --author and PR_REPORT_AUTHOR name it outright", async () => {
    forge.poster = "gitea-actions";
    forge.comments.push(
      { id: 1, body: `${REPORT_MARKER}\nforged`, user: { login: BOT } },
      { id: 2, body: `${REPORT_MARKER}\nours`, user: { login: "gitea-actions" } },
    );
    const args = ["--preview-json", fx("no-change.json"), "--post", "--pr", "7"];
    const gitea = await cli(args, { ...env(), GITEA_ACTIONS: "true" });
    expect(gitea.code).toBe(0);
    expect(gitea.stderr).toMatch(/updated comment 2 on PR #7 .* as gitea-actions/);

    forge.poster = "report-app[bot]";
    forge.requests = [];
    const named = await cli([...args, "--author", "report-app[bot]"], env());
    expect(named.code).toBe(0);
    expect(named.stderr).toMatch(/created comment \d+ on PR #7 .* as report-app\[bot\] \(as configured\)/);
    const id = forge.comments[2]?.id;
    // Named: nobody is asked.
    expect(forge.requests.some((r) => r.path === `${PREFIX}/user`)).toBe(false);
    const fromEnv = await cli(args, { ...env(), PR_REPORT_AUTHOR: "report-app[bot]" });
    expect(fromEnv.stderr).toContain(`updated comment ${id} on PR #7`);
    expect(forge.comments.map((c) => c.id)).toEqual([1, 2, id]);
    expect(forge.comments[0]?.body).toBe(`${REPORT_MARKER}\nforged`);
  });

  it("a token GET /user rejects (401) fails before anything is posted", async () => {
    forge.self = { status: 401 };
    const run = await cli(["--preview-json", fx("no-change.json"), "--post", "--pr", "7"], env());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/GET \/api\/v1\/user failed: HTTP 401/);
    expect(forge.requests.map((r) => r.path)).toEqual([`${PREFIX}/user`]);
  });

  for (const linkHeaders of [true, false]) {
    it(`finds its comment on page 3 of 250 (${linkHeaders ? "Link rel=next" : "page/per_page until a short page"})`, async () => {
      forge.linkHeaders = linkHeaders;
      for (let i = 0; i < 250; i++) forge.comments.push({ id: i + 1, body: `comment ${i + 1}` });
      forge.comments[119] = { id: 120, body: `${REPORT_MARKER}\nthe old report`, user: { login: BOT } };
      const run = await cli(["--preview-json", fx("update-pin-bump.json"), "--post", "--pr", "7"], env());
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/updated comment 120 on PR #7/);
      const gets = forge.requests.filter((r) => r.method === "GET" && r.path.endsWith("/comments"));
      // Pages of 50 (both per_page and Gitea's limit sent), stopping at the page that holds it.
      expect(gets.map((r) => r.query.get("page"))).toEqual(["1", "2", "3"]);
      expect(gets.every((r) => r.query.get("per_page") === "50" && r.query.get("limit") === "50")).toBe(true);
      expect(forge.requests.filter((r) => r.method === "POST")).toHaveLength(0);
      expect(forge.comments).toHaveLength(250);
      expect(forge.comments[119]?.body).toBe(run.stdout);
    });
  }

  it("walks every page before creating when no comment of its own exists (no Link headers)", async () => {
    forge.linkHeaders = false;
    for (let i = 0; i < 100; i++) forge.comments.push({ id: i + 1, body: `comment ${i + 1}` });
    const run = await cli(["--preview-json", fx("no-change.json"), "--post", "--pr", "7"], env());
    expect(run.code).toBe(0);
    // 50, 50, then an empty (short) page: the last.
    expect(
      forge.requests
        .filter((r) => r.method === "GET" && r.path.endsWith("/comments"))
        .map((r) => r.query.get("page")),
    ).toEqual(["1", "2", "3"]);
    expect(marked()).toHaveLength(1);
  });

  it("a byte order mark is stripped from every input: the event, the preview, the manifests, the diff text", async () => {
    const bom = (name: string, text: string) => {
      const file = path.join(dir, name);
      writeFileSync(file, `\uFEFF${text}`);
      return file;
    };
    const event = bom("bom-event.json", JSON.stringify({ pull_request: { number: 43 } }));
    const run = await cli(
      [
        "--preview-json",
        bom("bom-preview.json", readFileSync(fx("update-pin-bump.json"), "utf8")),
        "--manifest",
        bom("bom-head.json", readFileSync(fx("manifest-pin-bump.json"), "utf8")),
        "--base-manifest",
        bom("bom-base.json", readFileSync(fx("manifest-base.json"), "utf8")),
        "--diff-text",
        bom("bom.diff.txt", "+ a: 1\n"),
        "--post",
      ],
      { ...env(), GITHUB_EVENT_PATH: event },
    );
    expect(run.code).toBe(0);
    expect(forge.requests[1]?.path).toBe(`${PREFIX}/repos/${REPO}/issues/43/comments`);
    expect(run.stdout).toContain("```diff\n+ a: 1\n```");
    expect(run.stdout).not.toMatch(/\uFEFF|\\ufeff/);
  });

  it("takes the PR number from GITHUB_EVENT_PATH's pull_request.number", async () => {
    const event = path.join(dir, "event.json");
    writeFileSync(event, JSON.stringify({ action: "synchronize", number: 42, pull_request: { number: 42 } }));
    const run = await cli(["--preview-json", fx("no-change.json"), "--post"], {
      ...env(),
      GITHUB_EVENT_PATH: event,
    });
    expect(run.code).toBe(0);
    expect(forge.requests[1]?.path).toBe(`${PREFIX}/repos/${REPO}/issues/42/comments`);
  });

  for (const method of ["GET", "POST"]) {
    it(`a 403 on ${method} fails clearly: exit 1, the call and the status named, the token never printed`, async () => {
      forge.failOn = { method, status: 403 };
      const run = await cli(["--preview-json", fx("no-change.json"), "--post", "--pr", "7"], env());
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${method} ${PREFIX}/repos/${REPO}/issues/7/comments`);
      expect(run.stderr).toMatch(/failed: HTTP 403 Forbidden/);
      expect(run.stderr).toContain("pull-requests: write");
      expect(run.stderr).not.toContain(TOKEN);
      expect(run.stdout).not.toContain(TOKEN);
      // The report itself was still printed for the log.
      expect(run.stdout.startsWith(REPORT_MARKER)).toBe(true);
    });
  }

  it("the real command: creates, then edits; a 403 exits 1 without the token; --summary appends", async () => {
    const summary = path.join(dir, "summary.md");
    writeFileSync(summary, "earlier step\n");
    const args = ["--preview-json", fx("update-pin-bump.json"), "--post", "--pr", "9", "--summary"];
    const runEnv = { ...env(), GITHUB_STEP_SUMMARY: summary };
    const first = await spawnCli(args, runEnv);
    expect(first.stderr).toMatch(/created comment \d+ on PR #9/);
    expect(first.code).toBe(0);
    const second = await spawnCli(args, runEnv);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/updated comment \d+ on PR #9/);
    expect(marked()).toHaveLength(1);
    expect(readFileSync(summary, "utf8")).toBe(`earlier step\n${first.stdout}\n${second.stdout}\n`);

    forge.failOn = { method: "PATCH", status: 403 };
    const denied = await spawnCli(args, runEnv);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(
      /PATCH \/api\/v1\/repos\/molecule-ai\/molecule-images\/issues\/comments\/\d+ failed: HTTP 403/,
    );
    expect(`${denied.stdout}${denied.stderr}`).not.toContain(TOKEN);
  });
});

describe("usage and input errors exit 2", () => {
  it.each([
    [[], {}, /--preview-json <file> is required/],
    [["--bogus"], {}, /Unknown option '--bogus'/],
    [
      ["--preview-json", "/nonexistent/p.json"],
      {},
      /--preview-json \/nonexistent\/p\.json: cannot read \(ENOENT\)/,
    ],
    [["--preview-json", fx("manifest-base.json")], {}, /not a pulumi preview --json document/],
    [
      ["--preview-json", fx("no-change.json"), "--base-manifest", fx("manifest-base.json")],
      {},
      /needs --manifest/,
    ],
    [["--preview-json", fx("no-change.json"), "--manifest", fx("no-change.json")], {}, /invalid manifest/],
    [
      ["--preview-json", fx("no-change.json"), "--post", "--pr", "7"],
      { GITHUB_TOKEN: TOKEN },
      /GITHUB_REPOSITORY/,
    ],
    [
      ["--preview-json", fx("no-change.json"), "--post", "--pr", "7"],
      { GITHUB_REPOSITORY: REPO },
      /GITHUB_TOKEN/,
    ],
    [
      ["--preview-json", fx("no-change.json"), "--post", "--pr", "seven"],
      { GITHUB_REPOSITORY: REPO, GITHUB_TOKEN: TOKEN },
      /--pr: expected a PR number/,
    ],
    [
      ["--preview-json", fx("no-change.json"), "--post"],
      { GITHUB_REPOSITORY: REPO, GITHUB_TOKEN: TOKEN },
      /--pr <number>/,
    ],
  ] as Array<[string[], Record<string, string>, RegExp]>)("%j", async (args, env, message) => {
    const run = await cli(args, env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toContain(TOKEN);
  });
});

describe("forge client details", () => {
  it("parses Link headers", () => {
    expect(
      nextLink(
        '<https://api.github.com/x?page=3>; rel="next", <https://api.github.com/x?page=5>; rel="last"',
      ),
    ).toBe("https://api.github.com/x?page=3");
    expect(nextLink('<https://api.github.com/x?page=1>; rel="prev"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });

  it("never follows a next link to another origin with the token", async () => {
    const seen: string[] = [];
    const fakeFetch = (async (input: Parameters<typeof fetch>[0]) => {
      seen.push(String(input));
      return new Response("[]", {
        status: 200,
        headers: { Link: '<http://elsewhere.invalid/x?page=2>; rel="next"' },
      });
    }) as typeof fetch;
    const client = new ForgeClient({
      apiUrl: "http://127.0.0.1:9/api/v1",
      repository: REPO,
      token: TOKEN,
      fetch: fakeFetch,
    });
    await expect(client.findComment(1, REPORT_MARKER, BOT)).rejects.toThrow(ForgeError);
    await expect(client.findComment(1, REPORT_MARKER, BOT)).rejects.toThrow(/not sending the token there/);
    expect(seen.every((u) => u.startsWith("http://127.0.0.1:9/api/v1/"))).toBe(true);
  });
});

describe("posting against a misbehaving forge", () => {
  /** A real HTTP server on loopback answering from `answer`, recording every request and its token. */
  async function forge(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
    const seen: Array<{ url: string; auth?: string; at: number }> = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? "", auth: req.headers.authorization, at: Date.now() });
      answer(seen.length, req, res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
  }
  const client = (apiUrl: string) =>
    new ForgeClient({ apiUrl, repository: REPO, token: TOKEN, retryBaseMs: 10, timeoutMs: 5000 });
  const created = (res: ServerResponse) =>
    res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ id: 7 }));

  it("retries 429 and 5xx, honouring Retry-After, a bounded number of times", async () => {
    const flaky = await forge((n, _req, res) => {
      if (n === 1) return void res.writeHead(429, { "retry-after": "1" }).end("slow down");
      if (n === 2) return void res.writeHead(503).end("unavailable");
      created(res);
    });
    try {
      // An edit is idempotent: retried as it is (a create is looked for first: see below).
      expect((await client(flaky.url).updateComment(1, "hi")).id).toBe(7);
      expect(flaky.seen).toHaveLength(3);
      expect((flaky.seen[1]?.at ?? 0) - (flaky.seen[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    } finally {
      await flaky.close();
    }
    const down = await forge((_n, _req, res) => void res.writeHead(500).end("boom"));
    try {
      await expect(client(down.url).updateComment(1, "hi")).rejects.toThrow(/HTTP 500/);
      expect(down.seen).toHaveLength(4);
    } finally {
      await down.close();
    }
  });

  it("a redirect to another origin is a failure, and the token never goes there", async () => {
    const elsewhere = await forge((_n, _req, res) => created(res));
    const redirecting = await forge(
      (_n, req, res) => void res.writeHead(307, { location: `${elsewhere.url}${req.url}` }).end(),
    );
    try {
      await expect(client(redirecting.url).createComment(1, "hi")).rejects.toThrow(
        /another origin: not followed/,
      );
      expect(elsewhere.seen).toEqual([]);
    } finally {
      await redirecting.close();
      await elsewhere.close();
    }
  });

  it("a redirect within the same origin is followed", async () => {
    const moving = await forge((_n, req, res) =>
      req.url?.startsWith("/old/")
        ? void res.writeHead(307, { location: req.url.slice(4) }).end()
        : created(res),
    );
    try {
      expect((await client(`${moving.url}/old/api`).createComment(1, "hi")).id).toBe(7);
      expect(moving.seen.map((s) => s.url.split("/").slice(0, 3).join("/"))).toEqual([
        "/old/api",
        "/api/repos",
      ]);
    } finally {
      await moving.close();
    }
  });

  it("too many redirects within the origin fail, saying so", async () => {
    const looping = await forge((n, _req, res) => void res.writeHead(302, { location: `/loop/${n}` }).end());
    try {
      await expect(client(looping.url).updateComment(1, "hi")).rejects.toThrow(/more than 5 redirects/);
      expect(looping.seen).toHaveLength(6);
    } finally {
      await looping.close();
    }
  });

  it("every request is bounded by its timeout, headers and body alike", async () => {
    const sockets = new Set<import("node:net").Socket>();
    const silent = await forge((_n, req, res) => {
      sockets.add(req.socket);
      // Headers and a first byte, then nothing: only a deadline over the body ends this.
      if (req.url?.includes("trickle")) res.writeHead(200, { "content-type": "application/json" }).write("[");
    });
    const quick = (path: string) =>
      new ForgeClient({
        apiUrl: `${silent.url}/${path}`,
        repository: REPO,
        token: TOKEN,
        timeoutMs: 200,
        attempts: 2,
        retryBaseMs: 10,
      });
    try {
      const started = Date.now();
      await expect(quick("silent").updateComment(1, "hi")).rejects.toThrow(
        /request failed: timed out after 200 ms$/,
      );
      await expect(quick("trickle").findComment(1, REPORT_MARKER, BOT)).rejects.toThrow(
        /timed out after 200 ms \(HTTP 200, reading the body\)/,
      );
      expect(Date.now() - started).toBeLessThan(3000);
      // Each tried twice, then given up.
      expect(silent.seen).toHaveLength(4);
    } finally {
      for (const socket of sockets) socket.destroy();
      await silent.close();
    }
  });

  it("Retry-After as an HTTP date is honoured; a long one is capped", async () => {
    const dated = await forge((n, _req, res) => {
      if (n === 1) {
        const at = new Date(Date.now() + 2000).toUTCString();
        return void res.writeHead(503, { "retry-after": at }).end();
      }
      if (n === 2) return void res.writeHead(429, { "retry-after": "3600" }).end();
      created(res);
    });
    try {
      const capped = new ForgeClient({
        apiUrl: dated.url,
        repository: REPO,
        token: TOKEN,
        retryBaseMs: 10,
        maxRetryAfterMs: 1500,
      });
      expect((await capped.updateComment(1, "hi")).id).toBe(7);
      const gap = (i: number) => (dated.seen[i]?.at ?? 0) - (dated.seen[i - 1]?.at ?? 0);
      // The date is whole seconds: 1 to 2 s ahead, capped at 1.5 s; the hour is capped at 1.5 s.
      expect(gap(1)).toBeGreaterThanOrEqual(900);
      expect(gap(1)).toBeLessThan(1700);
      expect(gap(2)).toBeGreaterThanOrEqual(1400);
      expect(gap(2)).toBeLessThan(2500);
    } finally {
      await dated.close();
    }
  });

  /** Comments on loopback whose POST `misbehave`s once after storing the comment, as a flaky proxy does. */
  async function flakyCreates(misbehave: "502" | "timeout" | "429") {
    const comments: Array<{ id: number; body: string; user: { login: string } }> = [];
    let posts = 0;
    const sockets = new Set<import("node:net").Socket>();
    const server = await forge((_n, req, res) => {
      sockets.add(req.socket);
      let raw = "";
      req.on("data", (c: Buffer) => (raw += c.toString()));
      req.on("end", () => {
        const json = (status: number, body: unknown) =>
          res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
        const url = new URL(req.url ?? "/", "http://x");
        if (url.pathname === "/user") return json(403, { message: "Resource not accessible by integration" });
        if (req.method === "GET") return json(200, comments);
        if (req.method === "POST") {
          posts++;
          if (posts === 1 && misbehave === "429") return json(429, { message: "slow down" });
          const comment = { id: 100 + comments.length, body: JSON.parse(raw).body, user: { login: BOT } };
          comments.push(comment);
          if (posts === 1 && misbehave === "502") return json(502, { message: "Bad Gateway" });
          if (posts === 1 && misbehave === "timeout") return; // stored, never answered
          return json(201, comment);
        }
        const one = comments.find((c) => `/repos/${REPO}/issues/comments/${c.id}` === url.pathname);
        if (req.method === "PATCH" && one) {
          one.body = JSON.parse(raw).body;
          return json(200, one);
        }
        json(404, { message: "Not Found" });
      });
    });
    const close = async () => {
      for (const socket of sockets) socket.destroy();
      await server.close();
    };
    return { ...server, comments, close, posts: () => posts };
  }

  for (const misbehave of ["502", "timeout"] as const) {
    it(`a create answered with ${misbehave === "502" ? "a 502" : "a timeout"} after it was made leaves one comment, not two`, async () => {
      const flaky = await flakyCreates(misbehave);
      try {
        const c = new ForgeClient({
          apiUrl: flaky.url,
          repository: REPO,
          token: TOKEN,
          retryBaseMs: 10,
          timeoutMs: 300,
        });
        const result = await c.upsertComment(1, `${REPORT_MARKER}\nreport`, REPORT_MARKER);
        expect(result.action).toBe("created");
        expect(flaky.comments).toEqual([{ id: 100, body: `${REPORT_MARKER}\nreport`, user: { login: BOT } }]);
        expect(flaky.posts()).toBe(1);
        expect(flaky.seen.map((r) => r.url.split("?")[0])).toEqual([
          "/user",
          `/repos/${REPO}/issues/1/comments`,
          `/repos/${REPO}/issues/1/comments`,
          `/repos/${REPO}/issues/1/comments`,
          `/repos/${REPO}/issues/comments/100`,
        ]);
      } finally {
        await flaky.close();
      }
    });
  }

  it("a create refused with 429 (so not made) is simply sent again", async () => {
    const flaky = await flakyCreates("429");
    try {
      const c = new ForgeClient({ apiUrl: flaky.url, repository: REPO, token: TOKEN, retryBaseMs: 10 });
      expect((await c.upsertComment(1, `${REPORT_MARKER}\nreport`, REPORT_MARKER)).action).toBe("created");
      expect(flaky.posts()).toBe(2);
      expect(flaky.comments).toHaveLength(1);
    } finally {
      await flaky.close();
    }
  });
});
