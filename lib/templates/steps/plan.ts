/**
 * A run's plan, fixed before the destination is read: the entries in manifest order, where each is
 * fetched from, how often and how patiently each is tried, and git's environment with each token scoped
 * to its own host (two tokens for one host are refused here, before anything is touched).
 */
import { entriesOf, type PlannedEntry } from "../../manifest/contract";
import { type GitAuth, gitRun } from "../git/env";
import type { GitRun } from "../git/process";
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_CONCURRENCY,
  DEFAULT_GIT_BASE_URL,
  DEFAULT_GITHUB_BASE_URL,
  DEFAULT_RETRY_DELAY_MS,
  type StageOptions,
} from "../options";

export interface StagePlan {
  planned: PlannedEntry[];
  /** Tries per entry, at least 1. */
  attempts: number;
  retryDelayMs: number;
  /** Entries staged at once, at least 1. */
  concurrency: number;
  run: GitRun;
}

type Hosts = Pick<StageOptions, "gitBaseUrl" | "githubBaseUrl">;

/** Each token with the host it belongs to; the two hosts' tokens never meet. */
export function authsOf(opts: Hosts & Pick<StageOptions, "token" | "githubToken">): GitAuth[] {
  const auths: GitAuth[] = [];
  if (opts.token) auths.push({ baseUrl: opts.gitBaseUrl ?? DEFAULT_GIT_BASE_URL, token: opts.token });
  if (opts.githubToken) {
    const baseUrl = opts.githubBaseUrl ?? DEFAULT_GITHUB_BASE_URL;
    auths.push({ baseUrl, token: opts.githubToken, user: "x-access-token" });
  }
  return auths;
}

/** The URL an entry is fetched from: its provider's host, then `<owner>/<name>.git`. */
export function sourceUrl(entry: Pick<PlannedEntry, "provider" | "repo">, opts: Hosts): string {
  const base =
    entry.provider === "github"
      ? (opts.githubBaseUrl ?? DEFAULT_GITHUB_BASE_URL)
      : (opts.gitBaseUrl ?? DEFAULT_GIT_BASE_URL);
  return `${base.replace(/\/+$/, "")}/${entry.repo}.git`;
}

export function planStage(opts: StageOptions): StagePlan {
  const attempts = Math.max(1, opts.attempts ?? DEFAULT_ATTEMPTS);
  const retryDelayMs = opts.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  const run = gitRun({
    base: opts.env ?? process.env,
    auths: authsOf(opts),
    inactivityS: opts.gitInactivityS,
    timeoutMs: opts.gitTimeoutMs,
    direct: !opts.fetchWithGit,
  });
  const concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
  return { planned: entriesOf(opts.manifest), attempts, retryDelayMs, concurrency, run };
}
