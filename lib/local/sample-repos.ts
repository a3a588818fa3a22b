/**
 * Git repositories made from the sample templates in this repo (sample-templates/<name>/), with a fixed
 * author and date so their commit SHAs are the same on every machine and can be pinned in a manifest.
 * The local stack and the tests stage from these instead of the network.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ListName } from "../manifest/contract";
import { PROJECT_ROOT } from "../os/project-root";

export const SAMPLE_TEMPLATES_DIR = join(PROJECT_ROOT, "sample-templates");

export const SAMPLE_REPOS: Array<{ dir: string; list: ListName; repo: string }> = [
  {
    dir: "platform-agent",
    list: "workspace_templates",
    repo: "molecule-ai/molecule-ai-workspace-template-platform-agent",
  },
  { dir: "plugin-hello", list: "plugins", repo: "molecule-ai/molecule-ai-plugin-hello" },
  { dir: "org-demo", list: "org_templates", repo: "molecule-ai/molecule-ai-org-template-demo" },
];

const FIXED = "2026-01-01T00:00:00Z";

function git(args: string[], cwd: string): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    // Nothing from the user's git config may change the commit (and so its SHA).
    env: {
      PATH: process.env.PATH,
      HOME: "/nonexistent",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "molecule-images sample",
      GIT_AUTHOR_EMAIL: "sample@molecule-images.invalid",
      GIT_COMMITTER_NAME: "molecule-images sample",
      GIT_COMMITTER_EMAIL: "sample@molecule-images.invalid",
      GIT_AUTHOR_DATE: FIXED,
      GIT_COMMITTER_DATE: FIXED,
    },
  }).trim();
}

/** Creates `<root>/<owner>/<name>.git` for each sample; returns each one's pinned commit. */
export function createSampleRepos(
  root: string,
): Array<{ list: ListName; name: string; repo: string; ref: string }> {
  return SAMPLE_REPOS.map(({ dir, list, repo }) => {
    const work = mkdtempSync(join(tmpdir(), "sample-repo-"));
    try {
      cpSync(join(SAMPLE_TEMPLATES_DIR, dir), work, { recursive: true });
      git(["init", "--quiet", "--initial-branch=main"], work);
      git(["add", "--all"], work);
      git(["commit", "--quiet", "--no-gpg-sign", "-m", `sample ${dir}`], work);
      const bare = join(root, `${repo}.git`);
      mkdirSync(join(bare, ".."), { recursive: true });
      rmSync(bare, { recursive: true, force: true });
      git(["clone", "--quiet", "--bare", work, bare], work);
      return { list, name: dir, repo, ref: git(["rev-parse", "HEAD"], work) };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}
