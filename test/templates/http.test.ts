// The stager CLI against the loopback git smart-HTTP server: what file:// cannot show (request
// counts, auth headers, servers that refuse SHA wants, fail, or die) plus secrets and the
// concurrency bound. Real `tsx cli/stage.ts` children, real git, no mocks.

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, readlink, writeFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { processState } from "../../lib/os/proc";
import { DEFAULT_INACTIVITY_S } from "../../lib/templates/git/process";
import { DEFAULT_ATTEMPTS, GIT_KILL_SLACK_MS, silentServerBoundMs } from "../../lib/templates/stager";
import {
  createLongHistoryRepo,
  createRepo,
  deterministicBytes,
  gitEnv as fixtureGitEnv,
  type LongHistoryRepo,
  makeTempDir,
  type RepoFixture,
  removeDir,
  runGit,
} from "../support/git-fixtures";
import {
  type GitHttpServer,
  type GitHttpServerOptions,
  startGitHttpServer,
} from "../support/git-http-server";
import {
  allPaths,
  createGitWrapper,
  descendants,
  diffAgainstCommit,
  entryDir,
  failedOutputOf,
  type GitWrapper,
  killLiveStages,
  leftovers,
  type ManifestSpec,
  maxOverlap,
  type OutputEntry,
  outputOf,
  PROJECT,
  runStage,
  type StageOptions,
  type StageRun,
  snapshot,
  stagerPid,
  startStage,
  waitFor,
  writeManifest,
} from "../support/stage-cli";
import {
  createPlugin,
  createTemplateSet,
  manifestOf,
  type Template,
  type TemplateSet,
} from "../support/stage-fixtures";

const MISSING_SHA = "0123456789abcdef0123456789abcdef01234567";
/** Distinctive, so a hit anywhere is unambiguous. */
const TOKEN = "tok-Zq8yX3v1-secret-7c1e9d";
/** MOLECULE_GITHUB_TOKEN's, as distinctive. */
const GH_TOKEN = "ghs-Kp4wT9m2-secret-3b8f0a";
/** Every form either token could take on the wire or in a file: raw, or base64 beside any Basic user. */
const formsOf = (token: string) => [
  token,
  Buffer.from(token).toString("base64"),
  ...["oauth2", "x-access-token"].map((user) => Buffer.from(`${user}:${token}`).toString("base64")),
];
const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString("base64")}`;

let root: string;
let scratch: string;
let set: TemplateSet;
let long: LongHistoryRepo;
/** Six plain plugins: enough entries for concurrency and mid-run failures to be visible. */
let many: Template[];
let secret: Template;
/** A private repository that plays one on GitHub (entries with provider "github"). */
let ghSecret: Template;
/** shas[1] is reachable only from tag v2 (not a tip); main points at shas[0]. */
let tagged: RepoFixture;
let dirs = 0;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  root = await makeTempDir("stage-http-repos-");
  scratch = await makeTempDir("stage-http-work-");
  set = await createTemplateSet(root);
  long = await createLongHistoryRepo(root, "acme/long", { commits: 1000 });
  many = [];
  for (let i = 1; i <= 6; i++) many.push(await createPlugin(root, `plug-${i}`));
  secret = { ...(await createPlugin(root, "secret-tpl")), private: true };
  ghSecret = { ...(await createPlugin(root, "gh-secret")), private: true };
  tagged = await createRepo(root, "acme/tagged", [
    { files: { "plugin.yaml": "v0\n" } },
    { files: { "plugin.yaml": "v1\n" } },
    { files: { "plugin.yaml": "v2\n" } },
  ]);
  await runGit(["--git-dir", tagged.dir, "update-ref", "refs/tags/v2", tagged.shas[2] ?? ""]);
  await runGit(["--git-dir", tagged.dir, "update-ref", "refs/heads/main", tagged.shas[0] ?? ""]);
});

afterEach(async () => {
  await killLiveStages();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await Promise.all([root, scratch].filter(Boolean).map(removeDir));
});

async function serve(opts: Omit<GitHttpServerOptions, "root"> = {}): Promise<GitHttpServer> {
  const server = await startGitHttpServer({ root, ...opts });
  cleanups.push(() => server.close());
  return server;
}

async function freshDir(label: string): Promise<string> {
  const dir = path.join(scratch, `${++dirs}-${label}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

function stageArgs(file: string, dest: string, baseUrl: string, extra: string[] = []): string[] {
  return ["--manifest", file, "--dest", dest, "--git-base-url", baseUrl, "--retry-delay-ms", "50", ...extra];
}

async function stage(
  dest: string,
  manifest: ManifestSpec,
  baseUrl: string,
  opts: StageOptions & { args?: string[] } = {},
): Promise<StageRun> {
  const file = await writeManifest(`${dest}.manifest-${++dirs}.json`, manifest);
  return runStage(stageArgs(file, dest, baseUrl, opts.args), opts);
}

const labelOf = (t: { list: string; name: string }) => `${t.list}/${t.name}`;
const dirOf = (dest: string, t: Template) => entryDir(dest, t.list, t.name);
const byLabel = (entries: OutputEntry[]) => Object.fromEntries(entries.map((e) => [labelOf(e), e]));
const requestsFor = (server: GitHttpServer, repo: string) =>
  server.requests.filter((q) => q.path.startsWith(`/${repo}.git/`));
const reposRequested = (server: GitHttpServer) =>
  [
    ...new Set(
      server.requests.map((q) =>
        q.path
          .split("/")
          .slice(1, 3)
          .join("/")
          .replace(/\.git$/, ""),
      ),
    ),
  ].sort();

/** The manifest of `templates` at version A, the ones in `github` with provider "github". */
/** Pids of processes (not zombies) in any of these process groups, from /proc/<pid>/stat. */
function aliveInGroups(pgids: number[]): string[] {
  const alive: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // After the command name: state, ppid, pgrp.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (state !== "Z" && pgids.includes(Number(pgrp))) alive.push(`${pid} ${stat.slice(0, 60)}`);
    } catch {
      // exited while listed
    }
  }
  return alive;
}

/** Process groups of the gits a wrapper saw: the stager starts each detached, the wrapper leading it. */
const groupsOf = async (git: GitWrapper) =>
  (await git.calls()).map((c) => Number(c.id.split("-").pop())).filter((n) => n > 0);

function withGithub(templates: Template[], github: Template[]): ManifestSpec {
  const manifest = manifestOf(templates, "a");
  for (const t of github) {
    const entry = manifest[t.list]?.find((e) => e.name === t.name);
    if (entry) entry.provider = "github";
  }
  return manifest;
}

describe("over HTTP", () => {
  it("stages the same trees and digests as file://; a warm run then makes no request and runs no git", async () => {
    const server = await serve();
    const dir = await freshDir("http");
    const dest = path.join(dir, "deps");
    const git = await createGitWrapper(path.join(dir, "wrapper"));
    const manifest = manifestOf(set.all, "a");

    const out = outputOf(await stage(dest, manifest, server.url, { pathPrefix: git.binDir }));
    expect(out.entries.map((e) => e.action)).toEqual(set.all.map(() => "fetched"));
    for (const t of set.all)
      expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.a), labelOf(t)).toEqual([]);
    expect((await allPaths(dest)).filter((p) => path.basename(p) === ".git")).toEqual([]);
    // Protocol v2 fetches of single commits, all answered.
    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.every((q) => q.status === 200 && q.gitProtocol === "version=2")).toBe(true);
    for (const t of set.all) expect(requestsFor(server, t.repo).length, t.repo).toBeGreaterThan(0);

    // The source does not change what is staged: same digests as a file:// stage.
    const local = outputOf(await stage(path.join(dir, "local"), manifest, `file://${root}`));
    expect(out.digest).toBe(local.digest);
    expect(out.entries).toEqual(local.entries);

    server.resetStats();
    await git.clear();
    const warm = outputOf(await stage(dest, manifest, server.url, { pathPrefix: git.binDir }));
    expect(warm.entries.map((e) => e.action)).toEqual(set.all.map(() => "unchanged"));
    expect(warm.digest).toBe(out.digest);
    expect(server.requests).toEqual([]);
    expect(await git.calls()).toEqual([]);
  });

  it("a missing SHA and a missing repo fail after exactly one attempt, named; the rest is staged", async () => {
    const server = await serve();
    const dest = path.join(await freshDir("missing"), "deps");
    const manifest = manifestOf([set.alpha, set.extra], "a");
    manifest.plugins?.push(
      { name: "ghost-sha", repo: set.plugDev.repo, ref: MISSING_SHA },
      { name: "ghost-repo", repo: "acme/does-not-exist", ref: set.extra.a },
    );
    const run = await stage(dest, manifest, server.url);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(
      `plugins/ghost-sha (acme/plugin-dev @ ${MISSING_SHA}): commit ${MISSING_SHA} does not exist in acme/plugin-dev`,
    );
    expect(run.stderr).toContain(
      `plugins/ghost-repo (acme/does-not-exist @ ${set.extra.a}): repository ${server.url}/acme/does-not-exist.git not found`,
    );
    expect(run.stderr).not.toMatch(/retrying/);

    // One attempt each, from the server's side. The missing repo: the stager's own fetch (a 404 it leaves
    // to git), then git's ref advertisement. The missing SHA: one fetch, which the server refuses by name.
    const ghostRepo = requestsFor(server, "acme/does-not-exist");
    expect(ghostRepo.map((q) => `${q.method} ${q.status}`)).toEqual(["POST 404", "GET 404"]);
    const ghostSha = requestsFor(server, set.plugDev.repo);
    expect(ghostSha.map((q) => q.method)).toEqual(["POST"]);

    for (const t of [set.alpha, set.extra]) {
      expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.a), labelOf(t)).toEqual([]);
    }
    expect(await leftovers(dest)).toEqual([]);
  });
});

describe("a server that refuses to serve unadvertised SHAs (protocol v0)", () => {
  it("stages a commit hundreds of commits below the branch tip through the fallback, saying so", async () => {
    const server = await serve({ refuseShaWants: true });
    const dest = path.join(await freshDir("refuse"), "deps");
    // 400 commits below the tip: neither advertised nor within the first deepening steps.
    const index = long.shas.length - 401;
    const sha = long.shas[index] ?? "";
    const run = await stage(
      dest,
      { workspace_templates: [{ name: "long", repo: "acme/long", ref: sha }] },
      server.url,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /warning: workspace_templates\/long: \S+acme\/long\.git refused a fetch by SHA/,
    );
    const staged = path.join(dest, "workspace-configs-templates", "long");
    expect(await diffAgainstCommit(staged, long.dir, sha)).toEqual([]);
    expect(await readFile(path.join(staged, "CHANGELOG.md"), "utf8")).toBe(
      `# Changelog\n\nrevision ${index}\n`,
    );
    expect(outputOf(run).entries[0]).toMatchObject({ ref: sha, action: "fetched" });
  });

  // BUG (documented, see report): the fallback fetches branch heads only, so a pinned commit
  // that exists in the repository but is reachable only from a tag is reported as missing.
  // The same pin stages fine from a protocol v2 server (checked first, as the control).
  it("stages a commit that is reachable only from a tag, as it does over protocol v2", async () => {
    const sha = tagged.shas[1] ?? "";
    const manifest = { plugins: [{ name: "tagged", repo: "acme/tagged", ref: sha }] };
    const v2 = await serve();
    const control = await stage(path.join(await freshDir("tag-v2"), "deps"), manifest, v2.url);
    expect(control.code, control.stderr).toBe(0);

    const server = await serve({ refuseShaWants: true });
    const dest = path.join(await freshDir("tag-v0"), "deps");
    const run = await stage(dest, manifest, server.url);
    expect(run.code, run.stderr).toBe(0);
    expect(await diffAgainstCommit(path.join(dest, "plugins", "tagged"), tagged.dir, sha)).toEqual([]);
  });

  it("a SHA that exists nowhere fails cleanly (exit 1, named) after a bounded number of requests", async () => {
    const server = await serve({ refuseShaWants: true });
    const dest = path.join(await freshDir("refuse-missing"), "deps");
    const run = await stage(
      dest,
      { plugins: [{ name: "long", repo: "acme/long", ref: MISSING_SHA }] },
      server.url,
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(`plugins/long (acme/long @ ${MISSING_SHA}): commit ${MISSING_SHA}`);
    // Geometric deepening over 1,000 commits ends after a handful of rounds, not in a loop.
    expect(server.requests.length).toBeLessThan(30);
    await expect(readFile(path.join(dest, "plugins", "long", "CHANGELOG.md"))).rejects.toThrow(/ENOENT/);
  });
});

describe("transient failures", () => {
  it("retries a repo whose first requests fail with 500, noting each retry, and succeeds", async () => {
    let seen = 0;
    const server = await serve({
      // The first four requests for this repo fail: attempts 1 and 2 each die on the stager's own request
      // (a 5xx it leaves to git) and on git's first one.
      failRequests: ({ path: p }) =>
        p.startsWith(`/${set.extra.repo}.git/`) && ++seen <= 4 ? 500 : undefined,
    });
    const dest = path.join(await freshDir("flaky"), "deps");
    const run = await stage(dest, manifestOf([set.extra, set.plugDev], "a"), server.url);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/plugins\/extra-tools: attempt 1 failed \(.*500.*\); retrying in 50 ms/);
    expect(run.stderr).toMatch(/plugins\/extra-tools: attempt 2 failed \(.*500.*\); retrying in 100 ms/);
    expect(run.stderr).not.toMatch(/attempt 3 failed/);
    expect(byLabel(outputOf(run).entries)["plugins/extra-tools"]?.action).toBe("fetched");
    expect(await diffAgainstCommit(dirOf(dest, set.extra), set.extra.fixture.dir, set.extra.a)).toEqual([]);
    expect(
      requestsFor(server, set.extra.repo)
        .map((q) => `${q.method} ${q.status}`)
        .slice(0, 5),
    ).toEqual(["POST 500", "GET 500", "POST 500", "GET 500", "POST 200"]);
  });

  it("gives up after --attempts tries of a persistent 500, naming the entry", async () => {
    const server = await serve({
      failRequests: ({ path: p }) => (p.startsWith(`/${set.extra.repo}.git/`) ? 500 : undefined),
    });
    const dest = path.join(await freshDir("down"), "deps");
    const run = await stage(dest, manifestOf([set.extra, set.plugDev], "a"), server.url, {
      args: ["--attempts", "2"],
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /plugins\/extra-tools \(acme\/extra-tools @ [0-9a-f]{40}\): gave up after 2 attempts: .*500/,
    );
    // Each attempt: the stager's own request, then git's first.
    expect(requestsFor(server, set.extra.repo).map((q) => q.method)).toEqual(["POST", "GET", "POST", "GET"]);
    expect(await diffAgainstCommit(dirOf(dest, set.plugDev), set.plugDev.fixture.dir, set.plugDev.a)).toEqual(
      [],
    );
  });

  it("a server dying mid-run fails the run cleanly, keeps earlier entries intact, and a later run succeeds", async () => {
    const server = await serve();
    const dest = path.join(await freshDir("dies"), "deps");
    const versionA = outputOf(await stage(dest, manifestOf(many, "a"), server.url));
    const snapshotsA = new Map<string, string[]>();
    for (const t of many) snapshotsA.set(t.name, await snapshot(dirOf(dest, t)));

    // Version B, one entry at a time over a slow link; the server dies after the first one lands.
    server.options.latencyMs = 150;
    const file = await writeManifest(path.join(path.dirname(dest), "b.json"), manifestOf(many, "b"));
    const proc = startStage(stageArgs(file, dest, server.url, ["--concurrency", "1"]));
    await waitFor(() => /fetched plugins\//.test(proc.stderr()));
    await server.kill();
    const run = await proc.done;

    expect(run.code, run.stderr).toBe(1);
    const fetched = [...run.stderr.matchAll(/fetched plugins\/(\S+)/g)].map((m) => m[1]);
    expect(fetched.length).toBeGreaterThanOrEqual(1);
    expect(fetched.length).toBeLessThan(many.length);
    // Every entry not fetched is named as failed, with git's reason after the retries.
    const failed = many.filter((t) => !fetched.includes(t.name));
    for (const t of failed) {
      expect(run.stderr).toMatch(
        new RegExp(`plugins/${t.name} \\(${t.repo} @ ${t.b}\\): gave up after 3 attempts: git`),
      );
    }
    expect(run.stderr).toMatch(
      /Failed to connect|Connection refused|Empty reply|transfer closed|Recv failure/i,
    );

    // Entries not re-staged still hold version A, complete and with their recorded digest.
    for (const t of many) {
      const dir = dirOf(dest, t);
      if (fetched.includes(t.name))
        expect(await diffAgainstCommit(dir, t.fixture.dir, t.b), t.name).toEqual([]);
      else expect(await snapshot(dir), t.name).toEqual(snapshotsA.get(t.name));
    }
    expect(await leftovers(dest)).toEqual([]);

    server.options.latencyMs = 0;
    await server.start();
    const again = outputOf(await runStage(stageArgs(file, dest, server.url)));
    for (const t of many) {
      const e = byLabel(again.entries)[labelOf(t)];
      expect(e?.action, t.name).toBe(fetched.includes(t.name) ? "unchanged" : "fetched");
      expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.b), t.name).toEqual([]);
    }
    expect(again.digest).not.toBe(versionA.digest);
  });
});

describe("hostile peers", () => {
  /** A plain HTTP server on another port (another origin) that redirects every request to `target`. */
  async function redirector(target: string): Promise<{ url: string; hits: string[] }> {
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url} auth=${req.headers.authorization ?? "-"}`);
      res.writeHead(302, { location: `${target}${req.url}` }).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
  }

  it("a redirect to another host is a clear failure, and the token never reaches that host", async () => {
    const target = await serve();
    const origin = await redirector(target.url);
    const dest = path.join(await freshDir("redirect-away"), "deps");
    const run = await stage(dest, manifestOf([secret], "a"), origin.url, {
      env: { MOLECULE_GITEA_TOKEN: TOKEN },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(labelOf(secret));
    expect(run.stderr).toContain(`redirects to ${new URL(target.url).origin}, another host`);
    // The other host saw no request with the token: at most the token-less probe, or nothing.
    expect(target.requests.filter((q) => q.authorization !== undefined)).toEqual([]);
  });

  // git matches http.<url>.* settings by specificity: a caller's URL-specific followRedirects (a CI
  // runner's ~/.gitconfig, an include, `git -c` in a hook's environment) outranked the stager's generic
  // one, and git then carried the token's extraHeader to the other host on every request after the redirect.
  for (const [how, env] of [
    [
      "a URL-specific followRedirects=true in the global git config",
      (origin: string, file: string) => ({
        file,
        text: `[http "${origin}/"]\n\tfollowRedirects = true\n[http "${origin}/acme/secret-tpl.git/"]\n\tfollowRedirects = true\n`,
      }),
    ],
    ["GIT_CONFIG_PARAMETERS asking to follow redirects", () => undefined],
  ] as const) {
    it(`the token never follows a redirect to another host, even with ${how}`, async () => {
      const target = await serve();
      const origin = await redirector(target.url);
      const dir = await freshDir("redirect-config");
      const global = env(origin.url, path.join(dir, "gitconfig"));
      if (global) await writeFile(global.file, global.text);
      const run = await stage(path.join(dir, "deps"), manifestOf([secret], "a"), origin.url, {
        env: {
          MOLECULE_GITEA_TOKEN: TOKEN,
          ...(global
            ? { GIT_CONFIG_GLOBAL: global.file }
            : { GIT_CONFIG_PARAMETERS: "'http.followredirects'='true' 'http.followRedirects'='true'" }),
        },
        args: ["--attempts", "1"],
      });
      expect(target.requests.filter((q) => q.authorization !== undefined)).toEqual([]);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(labelOf(secret));
      expect(run.stderr).toContain(`redirects to ${new URL(target.url).origin}, another host`);
    });
  }

  // Without MOLECULE_GITHUB_TOKEN provider: github entries are fetched anonymously: the git host's token is
  // scoped to its origin, so a github entry gets none, not even when its host redirects to the git host.
  // And a host without a token may redirect wherever git's default (initial request only) allows.
  it("a provider: github entry never gets the git host's token, even redirected to the git host", async () => {
    const gitea = await serve({ requireToken: TOKEN, privateRepos: [secret.repo] });
    const github = await redirector(gitea.url);
    const dir = await freshDir("github-token");
    const manifest = manifestOf([secret, set.extra], "a");
    const extra = manifest.plugins?.find((e) => e.name === set.extra.name);
    if (extra) extra.provider = "github";
    const run = await stage(path.join(dir, "deps"), manifest, gitea.url, {
      env: { MOLECULE_GITEA_TOKEN: TOKEN },
      args: ["--github-base-url", github.url],
    });
    expect(run.code, run.stderr).toBe(0);
    expect(
      await diffAgainstCommit(dirOf(path.join(dir, "deps"), set.extra), set.extra.fixture.dir, set.extra.a),
    ).toEqual([]);
    // The private entry on the git host got the token; the github one, there and at the git host, none.
    expect(requestsFor(gitea, secret.repo).every((q) => q.authorization !== undefined)).toBe(true);
    expect(github.hits.length).toBeGreaterThan(0);
    expect(github.hits.filter((h) => !h.endsWith("auth=-"))).toEqual([]);
    expect(requestsFor(gitea, set.extra.repo).length).toBeGreaterThan(0);
    expect(requestsFor(gitea, set.extra.repo).filter((q) => q.authorization !== undefined)).toEqual([]);
  });

  // With it, the GitHub host is a token's host too: the same rule as for the git host's token.
  it("the GitHub token never follows a redirect to another host (here, the git host)", async () => {
    const gitea = await serve({ requireToken: TOKEN, privateRepos: [secret.repo] });
    const github = await redirector(gitea.url);
    const dir = await freshDir("github-redirect");
    const manifest = manifestOf([ghSecret], "a");
    for (const e of manifest.plugins ?? []) e.provider = "github";
    const run = await stage(path.join(dir, "deps"), manifest, gitea.url, {
      env: { MOLECULE_GITEA_TOKEN: TOKEN, MOLECULE_GITHUB_TOKEN: GH_TOKEN },
      args: ["--github-base-url", github.url, "--attempts", "1"],
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(labelOf(ghSecret));
    expect(run.stderr).toContain(`redirects to ${new URL(gitea.url).origin}, another host`);
    // The GitHub host got its own token (git's requests; the stager's probe of where it redirects goes
    // without); the git host never saw it, nor its own token for this entry.
    const ghAuth = `auth=${basic("x-access-token", GH_TOKEN)}`;
    expect(github.hits.some((h) => h.endsWith(ghAuth))).toBe(true);
    expect(github.hits.filter((h) => !h.endsWith(ghAuth) && !h.endsWith("auth=-"))).toEqual([]);
    expect(gitea.requests.filter((q) => q.authorization !== undefined)).toEqual([]);
  });

  it("a redirect within the same host is followed, with the token", async () => {
    const server = await serve({
      requireToken: TOKEN,
      privateRepos: [secret.repo],
      redirect: (p) => (p.startsWith("/moved/") ? p.slice("/moved".length) : undefined),
    });
    const dest = path.join(await freshDir("redirect-same"), "deps");
    const run = await stage(dest, manifestOf([secret], "a"), `${server.url}/moved`, {
      env: { MOLECULE_GITEA_TOKEN: TOKEN },
    });
    expect(run.code, run.stderr).toBe(0);
    expect(await diffAgainstCommit(dirOf(dest, secret), secret.fixture.dir, secret.a)).toEqual([]);
    expect(server.requests.some((q) => q.status === 302)).toBe(true);
  });

  it("a server that accepts and never answers fails the entry after the inactivity bound, leaving no git behind", async () => {
    const port = await silentServer();
    const dest = path.join(await freshDir("silent"), "deps");
    const started = Date.now();
    const run = await stage(dest, manifestOf([set.extra], "a"), `http://127.0.0.1:${port}`, {
      args: ["--git-timeout-s", "2", "--attempts", "2"],
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(labelOf(set.extra));
    expect(run.stderr).toMatch(/too slow|timed out|killed/i);
    expect(Date.now() - started).toBeLessThan(60_000);
    // No git process of that run is left (a zombie would show state Z; none may be running).
    const live = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .filter((pid) => {
        try {
          return (
            processState(Number(pid)) === "running" &&
            readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`127.0.0.1:${port}`)
          );
        } catch {
          return false;
        }
      });
    expect(live).toEqual([]);
  });

  it("a silent server fails the whole run in one entry's bound: queued entries on it are not tried", async () => {
    const host = `http://127.0.0.1:${await silentServer()}`;
    const dest = path.join(await freshDir("silent-run"), "deps");
    const started = Date.now();
    // One at a time, so without the give-up every entry would wait its own full bound in turn.
    const run = await stage(dest, manifestOf(set.all, "a"), host, {
      args: ["--git-timeout-s", "1", "--attempts", "2", "--concurrency", "1"],
    });
    const elapsed = Date.now() - started;
    const doc = failedOutputOf(run);
    const [first, ...rest] = doc.entries;
    expect(first?.error).toMatch(/no output or progress for 1 s/);
    expect(rest).toHaveLength(set.all.length - 1);
    for (const e of rest) {
      expect(e.action).toBe("failed");
      expect(e.error).toBe(
        `not tried: ${host} gave no answer to ${first?.list}/${first?.name} in any of its tries, and every entry on it would wait as long`,
      );
    }
    // Every entry is named on stderr, and the run took one entry's bound, not one per entry.
    for (const t of set.all) expect(run.stderr).toContain(labelOf(t));
    expect(elapsed).toBeLessThan(silentServerBoundMs(2, 1, 50) + 5_000);
  });

  it("with default settings a silent server fails within 3 minutes: attempts x inactivity + backoff", () => {
    // Each try ends at its first silent wait (git or the redirect probe, each bounded by the inactivity
    // bound, plus the time to kill a process group), and the retry delays (1 s, then 2 s) come between.
    expect(DEFAULT_INACTIVITY_S).toBeLessThan(60);
    expect(DEFAULT_ATTEMPTS).toBe(3);
    expect(silentServerBoundMs()).toBe(3 * (DEFAULT_INACTIVITY_S * 1000 + GIT_KILL_SLACK_MS) + 1000 + 2000);
    expect(silentServerBoundMs()).toBeLessThan(180_000);
  });

  /** Accepts TCP connections and never sends a byte: as https, git waits in the TLS handshake. */
  async function silentServer(): Promise<number> {
    const sockets: Socket[] = [];
    const silent = createNetServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(() => r(undefined)));
    });
    return (silent.address() as AddressInfo).port;
  }

  // curl's low-speed limit (GIT_HTTP_LOW_SPEED_*) starts with the transfer: the TLS handshake is part of
  // connecting, bounded only by curl's 300 s connect timeout, so an https host that accepts and never
  // answers held each try for 5 minutes (then the 10-minute cap), whatever --git-timeout-s said.
  // Both ways of fetching: the stager's own request (a TLS handshake that never completes is silence too)
  // and git fetch's.
  for (const how of ["direct", "git"] as const) {
    it(`an https server that accepts and never answers fails after the inactivity bound, leaving no process of its groups (${how})`, async () => {
      const port = await silentServer();
      const dir = await freshDir(`silent-tls-${how}`);
      const git = await createGitWrapper(path.join(dir, "wrapper"));
      const started = Date.now();
      const run = await stage(
        path.join(dir, "deps"),
        manifestOf([set.extra], "a"),
        `https://127.0.0.1:${port}`,
        {
          args: ["--git-timeout-s", "2", "--attempts", "2", ...(how === "git" ? ["--fetch-with-git"] : [])],
          pathPrefix: git.binDir,
        },
      );
      const elapsed = Date.now() - started;
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toContain(`${labelOf(set.extra)} (${set.extra.repo} @ ${set.extra.a})`);
      expect(run.stderr).toMatch(/no output or progress for 2 s/);
      // Two tries of 2 s each, 50 ms between, plus tsx's start-up: far below the 300 s git waited before.
      expect(elapsed).toBeLessThan(silentServerBoundMs(2, 2, 50) + 10_000);
      const fetches = (await git.calls()).filter((c) => c.argv.includes("fetch"));
      expect(fetches).toHaveLength(how === "git" ? 2 : 0);
      const groups = await groupsOf(git);
      expect(aliveInGroups(groups)).toEqual([]);
    }, 60_000);
  }

  // The probe that asks where a redirect points waited up to 60 s, twice the default inactivity bound.
  it("a server that redirects and then falls silent is bounded by --git-timeout-s too", async () => {
    let requests = 0;
    const held: ServerResponse[] = [];
    const server = createServer((req, res) => {
      if (++requests === 1) res.writeHead(302, { location: `/moved${req.url}` }).end();
      else held.push(res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r(undefined)));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const started = Date.now();
    const run = await stage(
      path.join(await freshDir("redirect-silent"), "deps"),
      manifestOf([secret], "a"),
      url,
      {
        env: { MOLECULE_GITEA_TOKEN: TOKEN },
        args: ["--git-timeout-s", "2", "--attempts", "1"],
      },
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toContain(labelOf(secret));
    expect(run.stderr).toMatch(/redirects, and asking where failed/);
    expect(Date.now() - started).toBeLessThan(silentServerBoundMs(1, 2, 0) + 10_000);
  }, 90_000);

  // git runs detached (its own process group, so a timeout reaches git-remote-http): a SIGTERM or Ctrl-C
  // to the stager no longer reached git, which lived on, blocked on the server, after the stager was gone.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`a stager stopped by ${signal} mid-fetch leaves no process of its git groups behind`, async () => {
      const port = await silentServer();
      const dir = await freshDir(`signal-${signal}`);
      const git = await createGitWrapper(path.join(dir, "wrapper"));
      const file = await writeManifest(path.join(dir, "manifest.json"), manifestOf([set.extra], "a"));
      const proc = startStage(
        // git fetch's process tree is what must not outlive the stager.
        stageArgs(file, path.join(dir, "deps"), `https://127.0.0.1:${port}`, [
          "--git-timeout-s",
          "120",
          "--fetch-with-git",
        ]),
        {
          pathPrefix: git.binDir,
        },
      );
      if (!proc.child.pid) throw new Error("stager did not start");
      const pid = await stagerPid(proc.child.pid);
      await waitFor(async () => (await descendants(pid)).length >= 3, 20_000);
      const groups = await groupsOf(git);
      expect(groups.length).toBe(1);
      expect(aliveInGroups(groups).length).toBeGreaterThan(0);
      process.kill(pid, signal);
      const ended = await proc.done;
      expect(ended.code).not.toBe(0);
      expect(ended.stderr).toContain(`stage: ${signal}: stopped`);
      await waitFor(async () => aliveInGroups(groups).length === 0, 5000).catch(() => undefined);
      expect(aliveInGroups(groups)).toEqual([]);
    }, 60_000);
  }
});

describe("secrets", () => {
  const forms = [
    TOKEN,
    Buffer.from(`oauth2:${TOKEN}`).toString("base64"),
    Buffer.from(TOKEN).toString("base64"),
    Buffer.from(`x-access-token:${TOKEN}`).toString("base64"),
  ];
  const leaks = (text: string) => forms.filter((f) => text.includes(f));

  async function filesUnder(dir: string): Promise<string> {
    let all = "";
    for (const p of await allPaths(dir)) {
      const abs = path.join(dir, p);
      all += `${p}\n${await readFile(abs, "latin1").catch(async () => readlink(abs).catch(() => ""))}\n`;
    }
    return all;
  }

  for (const how of ["direct", "git"] as const)
    it(`the token reaches the server as an Authorization header only: not in argv, output or any file (${how})`, async () => {
      const server = await serve({ requireToken: TOKEN, privateRepos: [secret.repo] });
      const dir = await freshDir(`token-${how}`);
      const dest = path.join(dir, "deps");
      const git = await createGitWrapper(path.join(dir, "wrapper"));
      const run = await stage(dest, manifestOf([secret, set.extra], "a"), server.url, {
        env: { MOLECULE_GITEA_TOKEN: TOKEN },
        pathPrefix: git.binDir,
        args: how === "git" ? ["--fetch-with-git"] : [],
      });
      expect(run.code, run.stderr).toBe(0);
      expect(await diffAgainstCommit(dirOf(dest, secret), secret.fixture.dir, secret.a)).toEqual([]);

      // Used: every request for the private repo carried it, and the server accepted them all.
      const priv = requestsFor(server, secret.repo);
      expect(priv.length).toBeGreaterThan(0);
      for (const q of priv) {
        expect(q.status).toBe(200);
        expect(q.authorization).toBe(`Basic ${Buffer.from(`oauth2:${TOKEN}`).toString("base64")}`);
      }

      // Never in any git argv. git fetch gets it in its environment's config; no other git sees it at all
      // (fetching directly, index-pack and git config run without it).
      const calls = await git.calls();
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.flatMap((c) => leaks(c.argv.join(" ")))).toEqual([]);
      const fetches = calls.filter((c) => c.argv.includes("fetch"));
      expect(fetches.length).toBe(how === "git" ? 2 : 0);
      const carries = (c: (typeof calls)[number]) =>
        Object.entries(c.env).some(
          ([k, v]) => k.startsWith("GIT_CONFIG_VALUE_") && v.startsWith("Authorization: "),
        );
      for (const c of fetches) expect(carries(c)).toBe(true);
      expect(
        calls.filter(
          (c) =>
            !c.argv.includes("fetch") && (carries(c) || leaks(Object.values(c.env).join(" ")).length > 0),
        ),
      ).toEqual([]);
      if (how === "direct") expect(calls.filter((c) => c.argv.includes("index-pack"))).toHaveLength(2);
      // Not in any repository config git wrote, not in the output, not in any file under dest.
      expect(leaks(await git.configs())).toEqual([]);
      expect(leaks(run.stdout)).toEqual([]);
      expect(leaks(run.stderr)).toEqual([]);
      const files = await filesUnder(dest);
      expect(files).toContain("plugin: secret-tpl");
      expect(leaks(files)).toEqual([]);
    });

  it("a rejected token is an auth failure: one attempt, a hint about MOLECULE_GITEA_TOKEN, no echo of it", async () => {
    const server = await serve({ requireToken: TOKEN, privateRepos: [secret.repo] });
    const dir = await freshDir("badtoken");
    const git = await createGitWrapper(path.join(dir, "wrapper"));
    const wrong = "tok-WRONG-4d1f0a";
    const run = await stage(path.join(dir, "deps"), manifestOf([secret], "a"), server.url, {
      env: { MOLECULE_GITEA_TOKEN: wrong },
      pathPrefix: git.binDir,
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /plugins\/secret-tpl \(acme\/secret-tpl @ [0-9a-f]{40}\): access to .* was refused.*MOLECULE_GITEA_TOKEN/,
    );
    expect(run.stderr).not.toMatch(/retrying/);
    // One attempt: the stager's own request, refused; git fetch is not asked to try again.
    expect((await git.calls()).filter((c) => c.argv.includes("fetch"))).toHaveLength(0);
    expect(requestsFor(server, secret.repo).map((q) => `${q.method} ${q.status}`)).toEqual(["POST 401"]);
    expect(requestsFor(server, secret.repo).every((q) => q.status === 401)).toBe(true);
    expect(run.stderr + run.stdout).not.toContain(wrong);
  });

  it("without the token a private entry fails naming MOLECULE_GITEA_TOKEN; --allow-missing-private skips it", async () => {
    const server = await serve({ requireToken: TOKEN, privateRepos: [secret.repo] });
    const dir = await freshDir("notoken");
    const manifest = manifestOf([secret, set.extra], "a");

    const failed = await stage(path.join(dir, "strict"), manifest, server.url);
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(
      /plugins\/secret-tpl \(acme\/secret-tpl @ [0-9a-f]{40}\): .*MOLECULE_GITEA_TOKEN/,
    );
    expect(
      await diffAgainstCommit(dirOf(path.join(dir, "strict"), set.extra), set.extra.fixture.dir, set.extra.a),
    ).toEqual([]);
    // Known to be hopeless, so not even attempted.
    expect(requestsFor(server, secret.repo)).toEqual([]);

    const dest = path.join(dir, "lenient");
    const run = await stage(dest, manifest, server.url, { args: ["--allow-missing-private"] });
    expect(run.code, run.stderr).toBe(0);
    const out = outputOf(run);
    expect(out.skipped).toEqual([
      { list: "plugins", name: "secret-tpl", ref: secret.a, reason: expect.any(String) },
    ]);
    expect(out.entries.map(labelOf)).toEqual(["plugins/extra-tools"]);
    expect(run.stderr).toMatch(/warning: plugins\/secret-tpl: skipped/);
    expect(await allPaths(path.join(dest, "plugins"))).not.toContain("secret-tpl");
    expect(requestsFor(server, secret.repo)).toEqual([]);
  });

  it("credentials in --git-base-url never appear in errors (missing repo, or retried 500s)", async () => {
    const server = await serve({
      failRequests: ({ path: p }) => (p.startsWith("/flaky/") ? 500 : undefined),
    });
    const dir = await freshDir("userinfo");
    const secretUrl = (prefix: string) => `http://ci-user:pw-S3cr3t-81f2@127.0.0.1:${server.port}/${prefix}`;
    for (const prefix of ["broken", "flaky"]) {
      const run = await stage(path.join(dir, prefix), manifestOf([set.extra], "a"), secretUrl(prefix), {
        args: ["--attempts", "2"],
      });
      expect(run.code, run.stderr).toBe(1);
      // The URL is shown (so the check is meaningful), with its userinfo masked.
      expect(run.stderr).toContain(`127.0.0.1:${server.port}/${prefix}/acme/extra-tools.git`);
      expect(run.stderr + run.stdout).not.toContain("pw-S3cr3t-81f2");
    }
    expect(server.requests.some((q) => q.path.startsWith("/broken/") && q.status === 404)).toBe(true);
    expect(server.requests.some((q) => q.path.startsWith("/flaky/") && q.status === 500)).toBe(true);
  });
  // Two loopback servers: one plays the git host, one plays GitHub. Each records the Authorization header of
  // every request it got, and both serve every repository, so a token sent to the wrong one would show.
  async function twoHosts() {
    const gitea = await serve({ requireToken: TOKEN, privateRepos: [secret.repo] });
    const github = await serve({ requireToken: GH_TOKEN, privateRepos: [ghSecret.repo] });
    const [ghPublic] = many;
    if (!ghPublic) throw new Error("no plugin fixture");
    return { gitea, github, ghPublic };
  }
  const tokensIn = (text: string | undefined) => ({
    gitea: formsOf(TOKEN).some((f) => text?.includes(f)),
    github: formsOf(GH_TOKEN).some((f) => text?.includes(f)),
  });

  it("each token reaches only its own host: MOLECULE_GITEA_TOKEN the git host, MOLECULE_GITHUB_TOKEN GitHub", async () => {
    const { gitea, github, ghPublic } = await twoHosts();
    const dir = await freshDir("two-tokens");
    const dest = path.join(dir, "deps");
    const git = await createGitWrapper(path.join(dir, "wrapper"));
    const templates = [secret, set.extra, ghSecret, ghPublic];
    const run = await stage(dest, withGithub(templates, [ghSecret, ghPublic]), gitea.url, {
      env: { MOLECULE_GITEA_TOKEN: TOKEN, MOLECULE_GITHUB_TOKEN: GH_TOKEN },
      pathPrefix: git.binDir,
      args: ["--github-base-url", github.url],
    });
    expect(run.code, run.stderr).toBe(0);
    for (const t of templates)
      expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.a), t.name).toEqual([]);

    // Each host was asked for its own entries only, and every request to it carried its own token.
    expect(reposRequested(gitea)).toEqual([set.extra.repo, secret.repo].sort());
    expect(reposRequested(github)).toEqual([ghPublic.repo, ghSecret.repo].sort());
    expect(new Set(gitea.requests.map((q) => q.authorization))).toEqual(new Set([basic("oauth2", TOKEN)]));
    expect(new Set(github.requests.map((q) => q.authorization))).toEqual(
      new Set([basic("x-access-token", GH_TOKEN)]),
    );
    // Neither token, in any form, ever reached the other host.
    expect(gitea.requests.filter((q) => tokensIn(q.authorization).github)).toEqual([]);
    expect(github.requests.filter((q) => tokensIn(q.authorization).gitea)).toEqual([]);

    // Both as headers through git's environment config: in no argv, git config file, output or staged file,
    // and neither raw variable reaches git.
    const calls = await git.calls();
    expect(calls.filter((c) => Object.values(tokensIn(c.argv.join(" "))).some(Boolean))).toEqual([]);
    expect(calls.filter((c) => "MOLECULE_GITEA_TOKEN" in c.env || "MOLECULE_GITHUB_TOKEN" in c.env)).toEqual(
      [],
    );
    expect(tokensIn(await git.configs())).toEqual({ gitea: false, github: false });
    expect(tokensIn(run.stdout + run.stderr)).toEqual({ gitea: false, github: false });
    const files = (
      await Promise.all(
        (await allPaths(dest)).map((p) => readFile(path.join(dest, p), "latin1").catch(() => "")),
      )
    ).join("\n");
    expect(files).toContain("plugin: gh-secret");
    expect(tokensIn(files)).toEqual({ gitea: false, github: false });
  });

  it("a private GitHub entry without MOLECULE_GITHUB_TOKEN fails naming it and the variable; --allow-missing-private skips it", async () => {
    const { gitea, github, ghPublic } = await twoHosts();
    const dir = await freshDir("no-github-token");
    const manifest = withGithub([secret, ghSecret, ghPublic], [ghSecret, ghPublic]);
    const both = (dest: string, env: Record<string, string>, args: string[] = []) =>
      stage(path.join(dir, dest), manifest, gitea.url, {
        env,
        args: ["--github-base-url", github.url, ...args],
      });

    // The git host's token is set: it is no GitHub token, and is not taken for one.
    const failed = await both("strict", { MOLECULE_GITEA_TOKEN: TOKEN });
    expect(failed.code, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(
      new RegExp(
        `plugins/gh-secret \\(acme/gh-secret @ ${ghSecret.a}\\): private entry and MOLECULE_GITHUB_TOKEN is not set`,
      ),
    );
    const doc = failedOutputOf(failed);
    expect(byLabel(doc.entries)[labelOf(ghSecret)]).toMatchObject({
      action: "failed",
      error: expect.stringContaining("MOLECULE_GITHUB_TOKEN"),
    });
    expect(byLabel(doc.entries)[labelOf(secret)]?.action).toBe("fetched");
    expect(byLabel(doc.entries)[labelOf(ghPublic)]?.action).toBe("fetched");
    // Known to be hopeless, so not even attempted; the public GitHub entry went without any token.
    expect(requestsFor(github, ghSecret.repo)).toEqual([]);
    expect(github.requests.filter((q) => q.authorization !== undefined)).toEqual([]);

    const lenient = await both("lenient", { MOLECULE_GITEA_TOKEN: TOKEN }, ["--allow-missing-private"]);
    expect(lenient.code, lenient.stderr).toBe(0);
    expect(outputOf(lenient).skipped).toEqual([
      {
        list: "plugins",
        name: "gh-secret",
        ref: ghSecret.a,
        reason: expect.stringContaining("MOLECULE_GITHUB_TOKEN"),
      },
    ]);
    expect(lenient.stderr).toMatch(/warning: plugins\/gh-secret: skipped/);
    expect(await allPaths(path.join(dir, "lenient", "plugins"))).not.toContain("gh-secret");

    // And the other way round: the GitHub token alone stages the GitHub entry, never the git host's.
    gitea.resetStats();
    const onlyGithub = await both("github-only", { MOLECULE_GITHUB_TOKEN: GH_TOKEN });
    expect(onlyGithub.code).toBe(1);
    expect(onlyGithub.stderr).toMatch(
      new RegExp(
        `plugins/secret-tpl \\(acme/secret-tpl @ ${secret.a}\\): private entry and MOLECULE_GITEA_TOKEN is not set`,
      ),
    );
    expect(byLabel(failedOutputOf(onlyGithub).entries)[labelOf(ghSecret)]?.action).toBe("fetched");
    expect(gitea.requests.filter((q) => q.authorization !== undefined)).toEqual([]);

    // A rejected GitHub token is an auth failure whose hint names its own variable.
    const wrong = await both("wrong", { MOLECULE_GITEA_TOKEN: TOKEN, MOLECULE_GITHUB_TOKEN: "ghs-WRONG-77" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/plugins\/gh-secret .*was refused \(private: is MOLECULE_GITHUB_TOKEN set/);
  });

  it("two tokens for one host (--github-base-url the git host's) are refused before any request: exit 2", async () => {
    const { gitea } = await twoHosts();
    const dir = await freshDir("one-host");
    const run = await stage(path.join(dir, "deps"), withGithub([secret, ghSecret], [ghSecret]), gitea.url, {
      env: { MOLECULE_GITEA_TOKEN: TOKEN, MOLECULE_GITHUB_TOKEN: GH_TOKEN },
      args: ["--github-base-url", gitea.url],
    });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain("two tokens for one host");
    expect(run.stdout).toBe("");
    expect(gitea.requests).toEqual([]);
  });
});

describe("memory", () => {
  const MiB = 1024 * 1024;
  /** The stager's own peak RSS (VmHWM of the process running stage(), git excluded) for one stage. */
  async function stagerPeak(
    spec: ManifestSpec,
    baseUrl: string,
  ): Promise<{ hwmBytes: number; dest: string }> {
    const dir = await freshDir("rss");
    const dest = path.join(dir, "deps");
    const file = await writeManifest(path.join(dir, "manifest.json"), spec);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/support/stage-rss.ts", file, dest, baseUrl],
      {
        cwd: PROJECT,
        env: fixtureGitEnv(),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString("utf8");
    });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    expect(code, err).toBe(0);
    return { hwmBytes: (JSON.parse(out) as { hwmBytes: number }).hwmBytes, dest };
  }
  const entry = (name: string, repo: string, ref = ""): ManifestSpec => ({ plugins: [{ name, repo, ref }] });
  const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  // The stager read every fetched object into one buffer (cat-file --batch-all-objects), kept each blob
  // in a Map, wrote it with writeFileSync and hashed it with readFileSync: a file cost about three times its
  // size in the stager, and after a fallback fetch so did every file of the branch tips it fetched.
  it("the stager's own peak memory does not grow with a file's size, by SHA or through the fallback", async () => {
    const big = deterministicBytes(128 * MiB, "memory-test");
    // c1 small, c2 (the tip) adds the big file: pinned at c2 the tree holds it; pinned at c1 through the
    // fallback (which fetches the tips first), only the history does.
    const repo = await createRepo(root, "acme/big", [
      { files: { "plugin.yaml": "small\n" } },
      { files: { "plugin.yaml": "tip\n", "data/big.bin": big } },
    ]);
    const [c1 = "", c2 = ""] = repo.shas;
    const medium = await createRepo(root, "acme/medium", [
      { files: { "plugin.yaml": "medium\n", "data/big.bin": big.subarray(0, 32 * MiB) } },
    ]);
    const server = await serve();
    const refusing = await serve({ refuseShaWants: true });

    const base = await stagerPeak(entry("big", "acme/big", c1), server.url);
    const m32 = await stagerPeak(entry("big", "acme/medium", medium.shas[0]), server.url);
    const m128 = await stagerPeak(entry("big", "acme/big", c2), server.url);
    const fallback128 = await stagerPeak(entry("big", "acme/big", c2), refusing.url);
    const fallbackTipOnly = await stagerPeak(entry("big", "acme/big", c1), refusing.url);

    // Staged byte for byte, and only where the pinned tree has it.
    const stagedSha = async (run: { dest: string }) =>
      sha256(await readFile(path.join(run.dest, "plugins", "big", "data", "big.bin")));
    expect(await stagedSha(m128)).toBe(sha256(big));
    expect(await stagedSha(fallback128)).toBe(sha256(big));
    expect(await stagedSha(m32)).toBe(sha256(big.subarray(0, 32 * MiB)));
    expect(await allPaths(path.join(fallbackTipOnly.dest, "plugins", "big"))).toEqual(["plugin.yaml"]);

    const mib = (b: number) => Math.round(b / MiB);
    const peaks = { base, m32, m128, fallback128, fallbackTipOnly };
    const context = `stager VmHWM, MiB: ${JSON.stringify(Object.fromEntries(Object.entries(peaks).map(([k, v]) => [k, mib(v.hwmBytes)])))}`;
    // A file four times larger (96 MiB more) costs the stager no more: before, about 3 x 96 MiB more.
    expect(mib(m128.hwmBytes - m32.hwmBytes), context).toBeLessThan(24);
    expect(mib(fallback128.hwmBytes - m32.hwmBytes), context).toBeLessThan(24);
    // Over a one-file entry: a bounded amount of pipe buffers not yet collected (about 35 MiB here),
    // under half the file's size (before: three times it).
    expect(mib(m128.hwmBytes - base.hwmBytes), context).toBeLessThan(64);
    expect(mib(fallback128.hwmBytes - base.hwmBytes), context).toBeLessThan(64);
    // Through the fallback, the big file of a branch tip outside the pinned tree is never read.
    expect(mib(fallbackTipOnly.hwmBytes - base.hwmBytes), context).toBeLessThan(16);
  }, 180_000);
});

describe("concurrency", () => {
  /** Stages `many` at --concurrency 2 under a git wrapper logging every call, each request 100 ms late. */
  async function stageLogged(name: string, args: string[]) {
    // Latency makes every fetch long enough for overlaps to be visible in the wrapper's log.
    const server = await serve({ latencyMs: 100 });
    const dir = await freshDir(name);
    const git = await createGitWrapper(path.join(dir, "wrapper"));
    const run = await stage(path.join(dir, "deps"), manifestOf(many, "a"), server.url, {
      pathPrefix: git.binDir,
      args: ["--concurrency", "2", ...args],
    });
    expect(run.code, run.stderr).toBe(0);
    return { server, calls: await git.calls() };
  }

  it("never runs more than --concurrency git processes at once", async () => {
    const { calls } = await stageLogged("concurrency", ["--fetch-with-git"]);
    expect(calls.filter((c) => c.argv.includes("fetch"))).toHaveLength(many.length);
    expect(calls.every((c) => c.endMs !== undefined)).toBe(true);
    // Exactly 2: never more, and the bound is actually used (the run is parallel at all).
    expect(maxOverlap(calls)).toBe(2);
  });

  it("fetching directly, never runs more than --concurrency index-packs, one per entry", async () => {
    const { server, calls } = await stageLogged("concurrency-direct", []);
    expect(calls.filter((c) => c.argv.includes("fetch"))).toEqual([]);
    const packs = calls.filter((c) => c.argv.includes("index-pack"));
    expect(packs).toHaveLength(many.length);
    expect(maxOverlap(packs)).toBeLessThanOrEqual(2);
    // One request per entry, every one of them a protocol v2 fetch.
    expect(server.requests.map((q) => `${q.method} ${q.path.split("/").pop()} ${q.gitProtocol}`)).toEqual(
      many.map(() => "POST git-upload-pack version=2"),
    );
    // Kept alive: each answer is read to its end, so its connection serves a later entry (one TLS
    // handshake per host, not per entry, against a real one).
    expect(server.connections).toBeLessThanOrEqual(2);
  });
});

describe("fetching directly (one request of the stager's own, where git would make the same one)", () => {
  it("an http.* setting in the user's git config, or a proxy variable, leaves every fetch to git fetch", async () => {
    const server = await serve();
    const dir = await freshDir("direct-blocked");
    const config = path.join(dir, "gitconfig");
    await writeFile(config, "[http]\n\tversion = HTTP/1.1\n");
    // The proxy is for https only: this http fetch goes straight to the server, through git.
    for (const env of [{ GIT_CONFIG_GLOBAL: config }, { HTTPS_PROXY: "http://127.0.0.1:9" }]) {
      server.resetStats();
      const dest = path.join(dir, `deps-${Object.keys(env)[0]}`);
      const run = await stage(dest, manifestOf([set.extra], "a"), server.url, { env });
      expect(run.code, run.stderr).toBe(0);
      expect(requestsFor(server, set.extra.repo).map((q) => q.method)).toEqual(["GET", "POST"]);
      expect(await diffAgainstCommit(dirOf(dest, set.extra), set.extra.fixture.dir, set.extra.a)).toEqual([]);
    }
  });

  it("a repository config in the working directory (a CI checkout's extraheader) is not git fetch's, so not a reason", async () => {
    const server = await serve();
    const dir = await freshDir("direct-cwd");
    const checkout = path.join(dir, "checkout");
    await runGit(["init", "--quiet", checkout]);
    await runGit([
      "-C",
      checkout,
      "config",
      "http.https://github.com/.extraheader",
      "AUTHORIZATION: basic x",
    ]);
    const dest = path.join(dir, "deps");
    const run = await stage(dest, manifestOf([set.extra], "a"), server.url, { cwd: checkout });
    expect(run.code, run.stderr).toBe(0);
    expect(requestsFor(server, set.extra.repo).map((q) => q.method)).toEqual(["POST"]);
  });

  /** A server that answers 200 and then does `then` with the response (trickle it, hold it, cut it). */
  async function answering(then: (res: ServerResponse) => void): Promise<string> {
    const server = createServer((req, res) => {
      req.resume();
      // A length, not chunks: each byte written is one byte on the wire, which is what the bound counts.
      res.writeHead(200, {
        "content-type": "application/x-git-upload-pack-result",
        "content-length": "1000000",
      });
      res.flushHeaders();
      then(res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r(undefined)));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const pkt = (payload: Buffer | string) => {
    const bytes = Buffer.from(payload);
    return Buffer.concat([Buffer.from((bytes.length + 4).toString(16).padStart(4, "0")), bytes]);
  };
  // The start of a pack: its header says 5 objects, none of which ever come.
  const packStart = Buffer.concat([
    pkt("packfile\n"),
    pkt(Buffer.from("\u0001PACK\0\0\0\u0002\0\0\0\u0005", "latin1")),
  ]);

  it("a server that trickles its answer (under a byte a second) is cut off after the inactivity bound", async () => {
    const url = await answering((res) => {
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed || at >= packStart.length) return clearInterval(timer);
        res.write(packStart.subarray(at, ++at));
      }, 1500);
      res.on("close", () => clearInterval(timer));
    });
    const started = Date.now();
    const run = await stage(path.join(await freshDir("trickle"), "deps"), manifestOf([set.extra], "a"), url, {
      args: ["--git-timeout-s", "2", "--attempts", "1"],
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/less than 1 byte a second for 2 s .*too slow/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("a server that trickles its status line and headers is cut off after the inactivity bound too", async () => {
    const sockets: Socket[] = [];
    const head = Buffer.from("HTTP/1.1 200 OK\r\ncontent-type: application/x-git-upload-pack-result\r\n\r\n");
    const trickler = createNetServer((socket) => {
      sockets.push(socket);
      let at = 0;
      const timer = setInterval(() => {
        if (socket.destroyed || at >= head.length) return clearInterval(timer);
        socket.write(head.subarray(at, ++at));
      }, 1500);
      socket.on("close", () => clearInterval(timer));
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => trickler.listen(0, "127.0.0.1", r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => trickler.close(() => r(undefined)));
    });
    const url = `http://127.0.0.1:${(trickler.address() as AddressInfo).port}`;
    const started = Date.now();
    const run = await stage(
      path.join(await freshDir("trickle-head"), "deps"),
      manifestOf([set.extra], "a"),
      url,
      {
        args: ["--git-timeout-s", "2", "--attempts", "1"],
      },
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/less than 1 byte a second for 2 s .*too slow/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  for (const how of ["falls silent", "hangs up"] as const) {
    it(`a server that ${how} mid-pack fails the entry, and leaves no index-pack behind`, async () => {
      const url = await answering((res) => {
        res.write(packStart);
        if (how === "hangs up") setTimeout(() => res.socket?.destroy(), 300);
      });
      const dir = await freshDir(`cut-${how.replace(" ", "-")}`);
      const git = await createGitWrapper(path.join(dir, "wrapper"));
      const run = await stage(path.join(dir, "deps"), manifestOf([set.extra], "a"), url, {
        args: ["--git-timeout-s", "2", "--attempts", "1"],
        pathPrefix: git.binDir,
      });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(
        how === "falls silent"
          ? /no output or progress for 2 s/
          : /connection failed mid-answer|ended before its pack did/,
      );
      const packs = (await git.calls()).filter((c) => c.argv.includes("index-pack"));
      expect(packs).toHaveLength(1);
      const groups = await groupsOf(git);
      expect(aliveInGroups(groups)).toEqual([]);
      expect(await leftovers(path.join(dir, "deps"))).toEqual([]);
    });
  }
});

describe("fetching directly over https", () => {
  let tls: { key: string; cert: string; certFile: string };
  beforeAll(async () => {
    const dir = await freshDir("tls");
    const [keyFile, certFile] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
    const made = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
        .concat(["-keyout", keyFile, "-out", certFile, "-subj", "/CN=127.0.0.1"])
        .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
    );
    if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
    tls = { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8"), certFile };
  });

  it("trusts what Node trusts: one connection for every entry, each one request", async () => {
    const server = await serve({ tls });
    const dest = path.join(await freshDir("tls-direct"), "deps");
    // Node's CAs plus this one; git is not told, so only the stager's own requests can succeed.
    const run = await stage(dest, manifestOf(many.slice(0, 3), "a"), server.url, {
      env: { NODE_EXTRA_CA_CERTS: tls.certFile },
      args: ["--concurrency", "1"],
    });
    expect(run.code, run.stderr).toBe(0);
    for (const t of many.slice(0, 3))
      expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.a), labelOf(t)).toEqual([]);
    expect(server.requests.map((q) => q.method)).toEqual(["POST", "POST", "POST"]);
    expect(server.connections).toBe(1);
  });

  it("a certificate Node refuses is left to git: refused there too it fails with git's reason; with GIT_SSL_CAINFO git fetches", async () => {
    const server = await serve({ tls });
    const dir = await freshDir("tls-git");
    const refused = await stage(path.join(dir, "refused"), manifestOf([set.extra], "a"), server.url, {
      args: ["--attempts", "1"],
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /SSL certificate problem|server certificate verification failed|self.signed/i,
    );
    expect(server.requests).toEqual([]); // neither got past the handshake
    const trusted = await stage(path.join(dir, "trusted"), manifestOf([set.extra], "a"), server.url, {
      env: { GIT_SSL_CAINFO: tls.certFile },
    });
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(requestsFor(server, set.extra.repo).map((q) => q.method)).toEqual(["GET", "POST"]);
  });
});
