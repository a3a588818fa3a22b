import { describe, expect, it } from "vitest";
import type { Manifest } from "../../manifest/contract";
import { GitAuthConflict } from "../git/env";
import { SILENT_PROGRESS } from "../progress";
import { authsOf, planStage, sourceUrl } from "./plan";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const manifest: Manifest = {
  version: 1,
  plugins: [{ name: "p", repo: "acme/p", ref: SHA }],
  workspace_templates: [{ name: "w", repo: "acme/w", ref: SHA, provider: "github" }],
  org_templates: [],
};
const opts = { manifest, dest: "/nowhere", progress: SILENT_PROGRESS, env: {} };

describe("authsOf: each token with its own host", () => {
  it("the git host's token goes to --git-base-url as oauth2, GitHub's to --github-base-url as x-access-token", () => {
    expect(authsOf({ token: "t1", githubToken: "t2", gitBaseUrl: "https://git.example" })).toEqual([
      { baseUrl: "https://git.example", token: "t1" },
      { baseUrl: "https://github.com", token: "t2", user: "x-access-token" },
    ]);
  });

  it("defaults the git host, and has nothing for a token that is not set", () => {
    expect(authsOf({ token: "t1" })).toEqual([{ baseUrl: "https://git.moleculesai.app", token: "t1" }]);
    expect(authsOf({ token: "", githubToken: undefined })).toEqual([]);
  });
});

describe("sourceUrl", () => {
  it("is <host>/<owner>/<name>.git on the entry's provider's host, trailing slashes dropped", () => {
    const hosts = { gitBaseUrl: "https://git.example//", githubBaseUrl: "https://gh.example/" };
    expect(sourceUrl({ repo: "acme/p" }, hosts)).toBe("https://git.example/acme/p.git");
    expect(sourceUrl({ repo: "acme/p", provider: "moleculesai" }, hosts)).toBe(
      "https://git.example/acme/p.git",
    );
    expect(sourceUrl({ repo: "acme/w", provider: "github" }, hosts)).toBe("https://gh.example/acme/w.git");
    expect(sourceUrl({ repo: "acme/w", provider: "github" }, {})).toBe("https://github.com/acme/w.git");
  });
});

describe("planStage", () => {
  it("plans every entry in list order, with the defaults", () => {
    const plan = planStage(opts);
    expect(plan.planned.map((e) => `${e.list}/${e.name}`)).toEqual(["plugins/p", "workspace_templates/w"]);
    expect(plan).toMatchObject({ attempts: 3, retryDelayMs: 1000, concurrency: 8 });
    expect(plan.run).toMatchObject({ timeoutMs: 600_000, inactivityS: 30, tokenOrigins: [] });
  });

  it("tries each entry and stages at least once, whatever it is given", () => {
    const plan = planStage({ ...opts, attempts: 0, concurrency: -2, retryDelayMs: 0 });
    expect(plan).toMatchObject({ attempts: 1, concurrency: 1, retryDelayMs: 0 });
  });

  it("scopes tokens to their origins and passes the bounds to git", () => {
    const plan = planStage({
      ...opts,
      token: "t1",
      gitBaseUrl: "https://git.example:8443/base",
      gitInactivityS: 5,
      gitTimeoutMs: 1234,
    });
    expect(plan.run).toMatchObject({
      timeoutMs: 1234,
      inactivityS: 5,
      tokenOrigins: ["https://git.example:8443"],
    });
    expect(plan.run.env.GIT_HTTP_LOW_SPEED_TIME).toBe("5");
  });

  it("refuses two different tokens for one host before anything is touched", () => {
    const same = { gitBaseUrl: "https://h.example", githubBaseUrl: "https://h.example/" };
    expect(() => planStage({ ...opts, ...same, token: "a", githubToken: "b" })).toThrow(GitAuthConflict);
  });
});
