/** What a stage run is given, and the defaults the CLI shows in its usage. */
import type { Manifest } from "../manifest/contract";
import { totalBackoffMs } from "../retry/retry";
import { DEFAULT_INACTIVITY_S } from "./git/process";
import type { Progress } from "./progress";

export const DEFAULT_GIT_BASE_URL = "https://git.moleculesai.app";
export const DEFAULT_GITHUB_BASE_URL = "https://github.com";
/**
 * Fetches are latency-bound (two round trips each), so more run than there are cores; each costs ~20 MiB
 * of git processes at depth 1 (bench: 160 MiB at 8), far from what OOM-killed the old full clones.
 */
export const DEFAULT_CONCURRENCY = 8;
/** Tries per entry for transient failures, and the first retry delay (doubled after each try). */
export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_RETRY_DELAY_MS = 1000;
/** What killing a timed-out git's process group and starting the next try may add to each try. */
export const GIT_KILL_SLACK_MS = 2000;

/**
 * The longest an entry can take against a server that accepts connections and never answers: each try
 * ends at its first silent wait (a git operation or a redirect probe, each bounded by the inactivity
 * bound), and the retry delays come between the tries. It bounds the run too: the entries queued behind
 * one that met only silence are not tried on that host (steps/entry.ts).
 */
export function silentServerBoundMs(
  attempts = DEFAULT_ATTEMPTS,
  inactivityS = DEFAULT_INACTIVITY_S,
  retryDelayMs = DEFAULT_RETRY_DELAY_MS,
): number {
  return attempts * (inactivityS * 1000 + GIT_KILL_SLACK_MS) + totalBackoffMs(attempts, retryDelayMs);
}

export interface StageOptions {
  manifest: Manifest;
  dest: string;
  gitBaseUrl?: string;
  githubBaseUrl?: string;
  concurrency?: number;
  allowMissingPrivate?: boolean;
  /** Read-only token for the platform's git host; sent only to `gitBaseUrl`. */
  token?: string;
  /** Read-only token for `provider: "github"` entries; sent only to `githubBaseUrl`. */
  githubToken?: string;
  /** Attempts per entry for transient failures. */
  attempts?: number;
  retryDelayMs?: number;
  /** Hard cap on one git process (a backstop); default 10 minutes. */
  gitTimeoutMs?: number;
  /**
   * Inactivity bound (default 30 s): a git operation that prints no output or progress for this long is
   * killed with its process group, and a transfer under a byte a second for this long fails.
   */
  gitInactivityS?: number;
  /**
   * Fetch every entry with `git fetch`. By default an http(s) entry is fetched with one request of the
   * stager's own (lib/templates/git/direct-fetch.ts) wherever git would make the same plain request.
   */
  fetchWithGit?: boolean;
  progress: Progress;
  /**
   * Where the staged trees' stat fingerprints are kept (fingerprints.ts), so a warm run need not read every
   * file; undefined hashes every tree in full on every run.
   */
  fingerprintCache?: string;
  /** Base environment for git children. */
  env?: NodeJS.ProcessEnv;
}
