/**
 * npm run -s stage -- --manifest <file> --dest <dir> [--git-base-url <url>] [--concurrency N]
 *                     [--allow-missing-private] [--attempts N] [--retry-delay-ms N] [--quiet]
 * (-s: without it npm prints its own banner on stdout, ahead of the JSON.)
 *
 * stdout: one JSON document { digest, entries: [{ list, name, ref, digest, action, error? }], skipped }, on
 * exit 0 and on exit 1 (then digest is null, and failed entries have action "failed" and their error).
 * stderr: progress. Exit 0 staged, 1 staging failed, 2 bad usage, invalid manifest, or a destination the
 * stager does not own (not empty and never staged into, or with a symlink where it manages a directory);
 * nothing on stdout then.
 */
import { readFile } from "node:fs/promises";
import { constants } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { entriesOf, ManifestError, type PlannedEntry, parseManifest } from "../lib/manifest/contract";
import { GitAuthConflict } from "../lib/templates/git/env";
import { DEFAULT_INACTIVITY_S, killGitGroups } from "../lib/templates/git/process";
import { LockError } from "../lib/templates/lock";
import { createProgress } from "../lib/templates/progress";
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_CONCURRENCY,
  DEFAULT_GIT_BASE_URL,
  DEFAULT_GITHUB_BASE_URL,
  DEFAULT_RETRY_DELAY_MS,
  DestinationError,
  type FailedStageResult,
  StageError,
  type StageResult,
  stage,
} from "../lib/templates/stager";

const USAGE = `usage: npm run -s stage -- --manifest <file> --dest <dir> [options]

  --manifest <file>          manifest.json to stage (required)
  --dest <dir>               staging destination, e.g. .tenant-bundle-deps (required): a new or empty
                             directory, or one staged into before (the stager owns what is in it)
  --git-base-url <url>       git host; repos are <url>/<owner>/<name>.git (default ${DEFAULT_GIT_BASE_URL})
  --github-base-url <url>    host for entries with provider "github" (default ${DEFAULT_GITHUB_BASE_URL})
  --concurrency <n>          parallel fetches (default ${DEFAULT_CONCURRENCY})
  --allow-missing-private    skip private entries whose token is not set (instead of failing them)
  --attempts <n>             tries per entry for transient failures (default ${DEFAULT_ATTEMPTS})
  --retry-delay-ms <n>       first retry delay, doubled each time (default ${DEFAULT_RETRY_DELAY_MS})
  --git-timeout-s <n>        a git operation with no output or progress this long fails, and so does a
                             transfer under 1 byte/s this long (default ${DEFAULT_INACTIVITY_S})
  --quiet                    no progress on stderr

environment (each token sent only as an HTTP header, and only to its own host):
  MOLECULE_GITEA_TOKEN       read token for the git host (--git-base-url)
  MOLECULE_GITHUB_TOKEN      read token for entries with provider "github" (--github-base-url)`;

class UsageError extends Error {}

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`--${name}: expected an integer >= ${min}, got "${value}"`);
  return n;
}

/**
 * `npm run stage` without -s has already printed npm's banner on stdout by the time this runs, so stdout
 * is no longer the JSON alone: only stderr can still say so.
 */
function noteNpmBanner(env: NodeJS.ProcessEnv): void {
  if (env.npm_lifecycle_event === "stage" && env.npm_config_loglevel !== "silent") {
    process.stderr.write(
      "stage: note: npm printed its banner on stdout ahead of the JSON; `npm run -s stage -- ...` prints the JSON alone\n",
    );
  }
}

/**
 * Where relative paths start: the directory the command was typed in. `npm run` runs the script from the
 * package root and leaves that directory in INIT_CWD; trusted only when npm is running this script, since
 * INIT_CWD is inherited by anything an npm script starts.
 */
function invocationDir(env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  return env.npm_lifecycle_event === "stage" && env.INIT_CWD ? env.INIT_CWD : cwd;
}

async function main(): Promise<number> {
  noteNpmBanner(process.env);
  const here = invocationDir(process.env);
  let args: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      options: {
        manifest: { type: "string" },
        dest: { type: "string" },
        "git-base-url": { type: "string" },
        "github-base-url": { type: "string" },
        concurrency: { type: "string" },
        "allow-missing-private": { type: "boolean" },
        attempts: { type: "string" },
        "retry-delay-ms": { type: "string" },
        "git-timeout-s": { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  try {
    args = parse();
  } catch (err) {
    process.stderr.write(`stage: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const v = args.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const print = (doc: StageResult | FailedStageResult) =>
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  let planned: PlannedEntry[] = [];
  try {
    if (!v.manifest || !v.dest) throw new UsageError("--manifest and --dest are required");
    const concurrency = positiveInt("concurrency", v.concurrency, DEFAULT_CONCURRENCY);
    const attempts = positiveInt("attempts", v.attempts, DEFAULT_ATTEMPTS);
    const retryDelayMs = positiveInt("retry-delay-ms", v["retry-delay-ms"], DEFAULT_RETRY_DELAY_MS, 0);
    const gitInactivityS = positiveInt("git-timeout-s", v["git-timeout-s"], DEFAULT_INACTIVITY_S);
    // Shown as typed; read from where it was typed.
    const manifestFile = v.manifest;
    let text: string;
    try {
      text = await readFile(resolve(here, manifestFile), "utf8");
    } catch (err) {
      throw new UsageError(
        `${manifestFile}: cannot read manifest: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
    const manifest = parseManifest(text, manifestFile);
    planned = entriesOf(manifest);
    const result = await stage({
      manifest,
      dest: resolve(here, v.dest),
      gitBaseUrl: v["git-base-url"] ?? DEFAULT_GIT_BASE_URL,
      githubBaseUrl: v["github-base-url"] ?? DEFAULT_GITHUB_BASE_URL,
      concurrency,
      attempts,
      gitInactivityS,
      retryDelayMs,
      allowMissingPrivate: v["allow-missing-private"] ?? false,
      token: process.env.MOLECULE_GITEA_TOKEN || undefined,
      githubToken: process.env.MOLECULE_GITHUB_TOKEN || undefined,
      progress: createProgress(process.stderr, v.quiet ?? false),
    });
    print(result);
    return 0;
  } catch (err) {
    if (
      err instanceof UsageError ||
      err instanceof ManifestError ||
      err instanceof DestinationError ||
      err instanceof GitAuthConflict
    ) {
      process.stderr.write(`stage: ${err.message}\n`);
      return 2;
    }
    // Exit 1 prints the document too: a failed run may have changed the destination already.
    if (err instanceof StageError) {
      print(err.result);
      // Each failed entry was reported as it happened (a FAILED line, even with --quiet): once is enough.
      const n = err.failures.length;
      process.stderr.write(`stage: staging failed for ${n} entr${n === 1 ? "y" : "ies"} (FAILED above)\n`);
      return 1;
    }
    // The run failed as a whole (the lock held, say) before any entry's outcome: none was staged by it.
    const message = err instanceof Error ? err.message : String(err);
    const entries = planned.map((e) => ({
      list: e.list,
      name: e.name,
      ref: e.ref,
      digest: null,
      action: "failed" as const,
      error: message,
    }));
    print({ digest: null, entries, skipped: [] });
    // Expected failures get their message; only a bug gets a stack trace.
    const expected = err instanceof LockError || (err as NodeJS.ErrnoException).code;
    process.stderr.write(`stage: ${expected ? message : ((err as Error).stack ?? err)}\n`);
    return 1;
  }
}

// git runs in process groups of its own (so a timeout can kill its helpers too), which a Ctrl-C or a
// SIGTERM to this process no longer reaches: they are killed here, then the stager exits as the signal
// would have made it. The lock and any half-built entry are what a kill -9 leaves; the next run settles them.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    killGitGroups();
    process.stderr.write(`stage: ${signal}: stopped (its git processes killed)\n`);
    process.exit(128 + constants.signals[signal]);
  });
}

main().then((code) => {
  process.exitCode = code;
});
