import { describe, expect, it } from "vitest";
import { classifyGitFailure, exitFailure, type GitFailureKind, redactUrl, withoutProgress } from "./failure";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const URL = "https://git.example.com/acme/tpl.git/";

// git's own words (LC_ALL=C, as gitEnv sets it), as git 2.39 prints them against file:// repositories and
// HTTP servers answering each status; the last rows are failures no rule names, which must stay retryable.
const CASES: Array<[string, GitFailureKind]> = [
  [`error: Server does not allow request for unadvertised object ${SHA}`, "refused"],
  [`fatal: remote error: upload-pack: not our ref ${SHA}`, "missing-ref"],
  [`fatal: git upload-pack: not our ref ${SHA}`, "missing-ref"],
  ["fatal: couldn't find remote ref refs/heads/nope", "missing-ref"],
  [`error: no such remote ref ${SHA}`, "missing-ref"],
  [`fatal: unable to find ${SHA}`, "missing-ref"],
  [`fatal: Authentication failed for '${URL}'`, "auth"],
  ["fatal: could not read Username for 'https://git.example.com': terminal prompts disabled", "auth"],
  ["fatal: could not read Password for 'https://oauth2@git.example.com': terminal prompts disabled", "auth"],
  [`remote: 403 body\nfatal: unable to access '${URL}': The requested URL returned error: 403`, "auth"],
  [`fatal: unable to access '${URL}': The requested URL returned error: 401`, "auth"],
  [`error: The requested URL returned error: 403 Forbidden while accessing ${URL}info/refs`, "auth"],
  ["remote: 401 Unauthorized", "auth"],
  [`remote: 404 body\nfatal: repository '${URL}' not found`, "missing-repo"],
  ["remote: Repository not found.", "missing-repo"],
  ["fatal: '/srv/git/nope.git' does not appear to be a git repository", "missing-repo"],
  [`fatal: unable to access '${URL}': The requested URL returned error: 404`, "missing-repo"],
  [`fatal: unable to access '${URL}': The requested URL returned error: 500`, "transient"],
  [`fatal: unable to access '${URL}': The requested URL returned error: 503`, "transient"],
  [`fatal: unable to access '${URL}': The requested URL returned error: 4030`, "transient"],
  [`fatal: unable to access '${URL}': Could not resolve host: git.example.com`, "transient"],
  [
    `fatal: unable to access '${URL}': Failed to connect to git.example.com port 443 after 0 ms: Couldn't connect to server`,
    "transient",
  ],
  [
    "error: RPC failed; curl 18 transfer closed with outstanding read data remaining\nfatal: early EOF",
    "transient",
  ],
  [
    `fatal: unable to access '${URL}': Operation too slow. Less than 1 bytes/sec transferred the last 30 seconds`,
    "transient",
  ],
  ["fatal: unable to find abc123", "transient"],
  ["", "transient"],
];

describe("classifyGitFailure: git's stderr to a kind", () => {
  it.each(CASES)("%s -> %s", (stderr, kind) => {
    expect(classifyGitFailure(stderr)).toBe(kind);
  });

  it("a refusal wins over the missing-ref rule, and a missing ref over an auth status in the same text", () => {
    expect(
      classifyGitFailure(`error: Server does not allow request for unadvertised object ${SHA}\nnot our ref`),
    ).toBe("refused");
    expect(classifyGitFailure(`fatal: couldn't find remote ref ${SHA}\nreturned error: 403`)).toBe(
      "missing-ref",
    );
    expect(classifyGitFailure("returned error: 401\nremote: Repository not found.")).toBe("auth");
  });
});

describe("exitFailure: the error for a git that ended unsuccessfully", () => {
  it("names the command and exit code, and takes its kind from stderr", () => {
    const err = exitFailure("git fetch", 128, null, `fatal: repository '${URL}' not found\n`);
    expect(err.message).toBe(`git fetch exited 128: fatal: repository '${URL}' not found`);
    expect(err.kind).toBe("missing-repo");
    expect(err.stderr).toBe(`fatal: repository '${URL}' not found\n`);
  });

  it("a killed git is transient whatever it printed", () => {
    const err = exitFailure("git fetch", null, "SIGKILL", "fatal: Authentication failed for 'x'");
    expect(err.message).toBe("git fetch was killed (SIGKILL): fatal: Authentication failed for 'x'");
    expect(err.kind).toBe("transient");
  });

  it("keeps the last three lines that explain, without progress meters or credentials", () => {
    const stderr = [
      "remote: Enumerating objects: 5, done.",
      "remote: Counting objects:  40% (2/5)\rremote: Counting objects: 100% (5/5), done.",
      "Receiving objects:  20% (1/5)",
      "one",
      "two",
      "three",
      "fatal: unable to access 'https://user:secret@git.example.com/a.git/': The requested URL returned error: 500",
    ].join("\n");
    expect(exitFailure("git fetch", 128, null, stderr).message).toBe(
      "git fetch exited 128: two | three | fatal: unable to access 'https://***@git.example.com/a.git/': The requested URL returned error: 500",
    );
  });

  it("says nothing after the code when stderr holds only progress", () => {
    expect(exitFailure("git fetch", 1, null, "Total 3 (delta 0), reused 0\n").message).toBe(
      "git fetch exited 1",
    );
  });
});

describe("withoutProgress and redactUrl", () => {
  it("drops meter lines and blank lines, keeping the rest in order", () => {
    expect(
      withoutProgress(
        "Compressing objects: 100% (3/3)\n\nwarning: x\r\nResolving deltas:  50% (1/2)\nfatal: y",
      ),
    ).toBe("warning: x\nfatal: y");
  });

  it("hides userinfo in every URL of a text, leaving URLs without it alone", () => {
    expect(redactUrl("from https://oauth2:tok@h.example/a and http://u@h2/b, not https://h3/c")).toBe(
      "from https://***@h.example/a and http://***@h2/b, not https://h3/c",
    );
  });
});
