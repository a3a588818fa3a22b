/**
 * The stager's command (cli/stage.ts is its entry point).
 *
 * stdout: one JSON document { digest, entries: [{ list, name, ref, digest, action, error? }], skipped }, on
 * exit 0 and on exit 1 (then digest is null, and failed entries have action "failed" and their error).
 * stderr: progress. Exit 0 staged, 1 staging failed, 2 bad usage, invalid manifest, or a destination the
 * stager does not own (not empty and never staged into, or with a symlink where it manages a directory);
 * nothing on stdout then.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import {
  entriesOf,
  type Manifest,
  ManifestError,
  type PlannedEntry,
  parseManifest,
} from "../../manifest/contract";
import { userCacheDir } from "../../os/cache-dir";
import { GitAuthConflict } from "../../templates/git/env";
import { DEFAULT_INACTIVITY_S } from "../../templates/git/process";
import { LockError } from "../../templates/lock";
import { createProgress } from "../../templates/progress";
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
} from "../../templates/stager";
import { integerFlag, requiredFlag } from "../flags";
import { type Command, type Flags, isUserError, messageOf, stackOf } from "../runner";
import { UserError } from "../user-error";

export const USAGE = `usage: npm run -s stage -- --manifest <file> --dest <dir> [options]

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
  --verify-contents          hash every staged file, trusting no recorded stat fingerprint (a warm run
                             otherwise reads only the trees' metadata; the fingerprints are kept in
                             MOLECULE_IMAGES_CACHE, default ~/.cache/molecule-images)
  --fetch-with-git           fetch every entry with \`git fetch\` (by default an http(s) entry takes one
                             request of the stager's own wherever git would make the same plain one:
                             no proxy, TLS or http.* setting in the environment or git config)
  --quiet                    no progress on stderr

environment (each token sent only as an HTTP header, and only to its own host):
  MOLECULE_GITEA_TOKEN       read token for the git host (--git-base-url)
  MOLECULE_GITHUB_TOKEN      read token for entries with provider "github" (--github-base-url)`;

export interface StageIo {
  stdout: NodeJS.WritableStream;
  /** A real stream: progress draws a bar on a terminal. */
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/**
 * `npm run stage` without -s has already printed npm's banner on stdout by the time this runs, so stdout
 * is no longer the JSON alone: only stderr can still say so.
 */
export function noteNpmBanner(env: NodeJS.ProcessEnv, stderr: NodeJS.WritableStream): void {
  if (env.npm_lifecycle_event === "stage" && env.npm_config_loglevel !== "silent") {
    stderr.write(
      "stage: note: npm printed its banner on stdout ahead of the JSON; `npm run -s stage -- ...` prints the JSON alone\n",
    );
  }
}

/**
 * Where relative paths start: the directory the command was typed in. `npm run` runs the script from the
 * package root and leaves that directory in INIT_CWD; trusted only when npm is running this script, since
 * INIT_CWD is inherited by anything an npm script starts.
 */
function invocationDir(env: NodeJS.ProcessEnv, cwd: string): string {
  return env.npm_lifecycle_event === "stage" && env.INIT_CWD ? env.INIT_CWD : cwd;
}

const OPTIONS = {
  manifest: { type: "string" },
  dest: { type: "string" },
  "git-base-url": { type: "string" },
  "github-base-url": { type: "string" },
  concurrency: { type: "string" },
  "allow-missing-private": { type: "boolean" },
  attempts: { type: "string" },
  "retry-delay-ms": { type: "string" },
  "git-timeout-s": { type: "string" },
  "verify-contents": { type: "boolean" },
  "fetch-with-git": { type: "boolean" },
  quiet: { type: "boolean" },
} satisfies Flags;

const required = requiredFlag("--manifest and --dest are required");

// In the order they are checked: the first problem is the one reported.
const stageArgs = z.object({
  manifest: required,
  dest: required,
  concurrency: integerFlag("concurrency", { min: 1, fallback: DEFAULT_CONCURRENCY }),
  attempts: integerFlag("attempts", { min: 1, fallback: DEFAULT_ATTEMPTS }),
  "retry-delay-ms": integerFlag("retry-delay-ms", { min: 0, fallback: DEFAULT_RETRY_DELAY_MS }),
  "git-timeout-s": integerFlag("git-timeout-s", { min: 1, fallback: DEFAULT_INACTIVITY_S }),
  "git-base-url": z.string().default(DEFAULT_GIT_BASE_URL),
  "github-base-url": z.string().default(DEFAULT_GITHUB_BASE_URL),
  "allow-missing-private": z.boolean().default(false),
  "verify-contents": z.boolean().default(false),
  "fetch-with-git": z.boolean().default(false),
  quiet: z.boolean().default(false),
});

type StageArgs = z.infer<typeof stageArgs>;

/** Bad input from the modules the stager uses: exit 2, nothing staged and nothing on stdout. */
const USER_ERRORS = [ManifestError, DestinationError, GitAuthConflict];

/** The manifest as typed (shown so in messages), read from where it was typed. */
async function readManifest(file: string, here: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(resolve(here, file), "utf8");
  } catch (err) {
    throw new UserError(`${file}: cannot read manifest: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  return parseManifest(text, file);
}

function print(io: StageIo, doc: StageResult | FailedStageResult): void {
  io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

/** The document of a run that failed as a whole (the lock held, say) before any entry's outcome. */
function noneStaged(planned: PlannedEntry[], err: unknown): FailedStageResult {
  const error = messageOf(err);
  const entries = planned.map((e) => ({
    list: e.list,
    name: e.name,
    ref: e.ref,
    digest: null,
    action: "failed" as const,
    error,
  }));
  return { digest: null, entries, skipped: [] };
}

async function run(args: StageArgs, io: StageIo): Promise<number> {
  const here = invocationDir(io.env, io.cwd);
  let planned: PlannedEntry[] = [];
  try {
    const manifest = await readManifest(args.manifest, here);
    planned = entriesOf(manifest);
    const result = await stage({
      manifest,
      dest: resolve(here, args.dest),
      gitBaseUrl: args["git-base-url"],
      githubBaseUrl: args["github-base-url"],
      concurrency: args.concurrency,
      attempts: args.attempts,
      gitInactivityS: args["git-timeout-s"],
      retryDelayMs: args["retry-delay-ms"],
      allowMissingPrivate: args["allow-missing-private"],
      fetchWithGit: args["fetch-with-git"],
      token: io.env.MOLECULE_GITEA_TOKEN || undefined,
      githubToken: io.env.MOLECULE_GITHUB_TOKEN || undefined,
      progress: createProgress(io.stderr, args.quiet),
      fingerprintCache: args["verify-contents"] ? undefined : userCacheDir(io.env),
    });
    print(io, result);
    return 0;
  } catch (err) {
    // Exit 1 prints the document too: a failed run may have changed the destination already.
    if (err instanceof StageError) {
      print(io, err.result);
      // Each failed entry was reported as it happened (a FAILED line, even with --quiet): once is enough.
      const n = err.failures.length;
      io.stderr.write(`stage: staging failed for ${n} entr${n === 1 ? "y" : "ies"} (FAILED above)\n`);
      return 1;
    }
    if (!isUserError(err, USER_ERRORS)) print(io, noneStaged(planned, err));
    throw err;
  }
}

export const STAGE_COMMAND: Command<StageArgs, StageIo> = {
  name: "stage",
  usage: USAGE,
  options: OPTIONS,
  schema: stageArgs,
  run,
  userErrors: USER_ERRORS,
  // Expected failures get their message; only a bug gets a stack trace.
  crash: {
    exitCode: 1,
    describe: (err) =>
      err instanceof LockError || (err as NodeJS.ErrnoException).code ? messageOf(err) : stackOf(err),
  },
};
