/**
 * Fetching one pinned commit into a private bare repository: by SHA at depth 1, or, where the server
 * refuses unadvertised SHAs, the smallest walk of branch and tag history that reaches it.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchDirect } from "./direct-fetch";
import { directBlockerOf } from "./direct-when";
import { GitError } from "./failure";
import { DEFAULT_INACTIVITY_S, type GitRun, git } from "./process";
import { isRedirect, noRedirectArgs, sameOriginRedirect } from "./redirect";

/**
 * A bare repository's skeleton, written directly: `git init` would be one more fork of this (large)
 * process per entry, and nothing but fetched objects ever lives here (no hooks, no templates).
 */
export function initBare(gitDir: string): void {
  for (const dir of ["objects/pack", "refs/heads", "refs/tags"])
    mkdirSync(join(gitDir, dir), { recursive: true });
  writeFileSync(join(gitDir, "HEAD"), "ref: refs/heads/main\n");
  writeFileSync(join(gitDir, "config"), "[core]\n\trepositoryformatversion = 0\n\tbare = true\n");
}

async function hasCommit(gitDir: string, sha: string, run: GitRun): Promise<boolean> {
  try {
    await git(["--git-dir", gitDir, "cat-file", "-e", `${sha}^{commit}`], run);
    return true;
  } catch {
    return false;
  }
}

async function isShallow(gitDir: string, run: GitRun): Promise<boolean> {
  const { stdout } = await git(["--git-dir", gitDir, "rev-parse", "--is-shallow-repository"], run);
  return stdout.toString().trim() === "true";
}

export interface FetchOutcome {
  /** Set when the server refused a fetch by SHA and branch history had to be walked. */
  fallback?: { depth: number };
}

// --no-auto-maintenance: otherwise every fetch forks `git maintenance run --auto` just to learn it is off.
// --progress: the progress meter (on stderr even when it is no terminal) is the sign of life the
// inactivity bound watches; a transfer that moves data updates it every second.
const FETCH = [
  "fetch",
  "--progress",
  "--no-tags",
  "--no-write-fetch-head",
  "--no-recurse-submodules",
  "--no-auto-maintenance",
];

/**
 * Fetches exactly `sha` at depth 1. If the server refuses unadvertised SHAs, falls back to the
 * smallest fetch that reaches it: every branch and tag tip at depth 1, deepened geometrically until the
 * commit appears or history is complete.
 */
export async function fetchCommit(
  gitDir: string,
  url: string,
  sha: string,
  run: GitRun,
): Promise<FetchOutcome> {
  for (let hops = 0; ; hops++) {
    try {
      return await fetchFrom(gitDir, url, sha, run);
    } catch (err) {
      if (!isRedirect(err) || hops >= 5) throw err;
      url = await sameOriginRedirect(url, (run.inactivityS ?? DEFAULT_INACTIVITY_S) * 1000);
    }
  }
}

async function fetchFrom(gitDir: string, url: string, sha: string, run: GitRun): Promise<FetchOutcome> {
  // One request and one process instead of git's two and five, where that is the same request (see
  // direct-when.ts); whatever it does not understand is left to git fetch, below.
  if (
    (await directBlockerOf(run, gitDir)) === undefined &&
    (await fetchDirect(gitDir, url, sha, run)) === "fetched"
  )
    return {};
  const pin = noRedirectArgs(url, run);
  try {
    // A fetch by SHA fails outright when the commit is absent, so success needs no second check.
    await git([...pin, "--git-dir", gitDir, ...FETCH, "--depth=1", url, sha], run);
    return {};
  } catch (err) {
    if (!(err instanceof GitError) || err.kind !== "refused") throw err;
  }
  // Branches and tags: a pin may be reachable only from a release tag.
  const refs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"];
  await git([...pin, "--git-dir", gitDir, ...FETCH, "--depth=1", url, ...refs], run);
  let depth = 1;
  for (let step = 16; ; step *= 4) {
    if (await hasCommit(gitDir, sha, run)) return { fallback: { depth } };
    if (!(await isShallow(gitDir, run))) {
      throw new GitError(`commit ${sha} is not on any branch of the repository`, "missing-ref");
    }
    await git([...pin, "--git-dir", gitDir, ...FETCH, `--deepen=${step}`, url, ...refs], run);
    depth += step;
  }
}
