/**
 * npm run pr-report -- --preview-json <file> [--manifest <file> [--base-manifest <file>]] [--diff-text <file>]
 *                      [--mask-env NAME]... [--summary] [--post [--pr <number>] [--author <login>]]
 *
 * Reads the files, sanitises, renders (render.ts), then prints the report and optionally appends it to the
 * job summary and posts it on the pull request (forge.ts). The I/O lives here; the decisions do not.
 *
 * Exit 0: done. 1: posting (or writing the job summary) failed. 2: bad usage or input.
 */
import { appendFile, readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { ManifestError, parseManifest } from "../manifest/contract";
import { ForgeClient, ForgeError, GITEA_ACTIONS_LOGIN, GITHUB_ACTIONS_LOGIN, parseRepository } from "./forge";
import type { PinInfo } from "./images";
import { comparePins, pinsFromManifest, pinsFromRecord, RECORD_NAME, RECORD_TYPE } from "./pins";
import { InputError, type PreviewDigest, parsePreview, parseUrn, sanitizePreview } from "./preview";
import { REPORT_MARKER, renderReport } from "./render";
import { maskText, maskValues } from "./secrets";

export const USAGE = `usage: npm run pr-report -- --preview-json <file> [options]

  --preview-json <file>   the output of: pulumi preview --json
  --manifest <file>       the PR's manifest.json, to name the template pins that moved
  --base-manifest <file>  the base branch's manifest.json to compare with (default: the pins the stack recorded)
  --diff-text <file>      the full diff to collapse into the report (e.g. pulumi preview --diff); default: from the JSON
  --mask-env <NAME>       also mask this variable's value wherever it appears (repeatable; MOLECULE_GITEA_TOKEN and
                          GITHUB_TOKEN are always masked)
  --summary               also append the report to $GITHUB_STEP_SUMMARY
  --post                  create or edit the report comment on the PR (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN)
  --pr <number>           the PR number (default: pull_request.number from $GITHUB_EVENT_PATH)
  --author <login>        who posts: only a comment by this login is edited (default: $PR_REPORT_AUTHOR, else the
                          token's login from GET /user, else the job token's bot: github-actions[bot], or
                          gitea-actions when GITEA_ACTIONS=true)

exit codes: 0 ok, 1 posting failed, 2 bad usage or input`;

export interface PrReportIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  /** Injectable for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

async function readInput(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new InputError(`${flag} ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

/** The PR number from the event payload: pull_request events, or a comment event on a PR. */
async function prFromEvent(eventPath: string | undefined): Promise<number | undefined> {
  if (!eventPath) return undefined;
  const text = await readInput(eventPath, "GITHUB_EVENT_PATH");
  let event: Record<string, unknown>;
  try {
    // A byte order mark is not part of the document (JSON.parse would reject it), as for the other inputs.
    event = JSON.parse(text.replace(/^\uFEFF/, "")) as Record<string, unknown>;
  } catch {
    throw new InputError(`GITHUB_EVENT_PATH ${eventPath}: not valid JSON`);
  }
  const pr = (event.pull_request as { number?: unknown } | undefined)?.number;
  if (typeof pr === "number") return pr;
  const issue = event.issue as { number?: unknown; pull_request?: unknown } | undefined;
  if (issue?.pull_request && typeof issue.number === "number") return issue.number;
  return undefined;
}

/** Pins from the manifests; with only --manifest, the base is what the templates record last recorded. */
function comparePinsFor(
  preview: PreviewDigest,
  head: string | undefined,
  base: string | undefined,
  files: { manifest?: string; base?: string },
): { pins?: PinInfo; pinNote?: string } {
  if (head === undefined) return {};
  const headPins = pinsFromManifest(parseManifest(head, files.manifest ?? "--manifest"));
  if (base !== undefined) {
    const basePins = pinsFromManifest(parseManifest(base, files.base ?? "--base-manifest"));
    return { pins: { changes: comparePins(basePins, headPins), source: "base-manifest" } };
  }
  for (const step of preview.steps) {
    if (step.oldState?.type !== RECORD_TYPE || parseUrn(step.urn).name !== RECORD_NAME) continue;
    const recorded = pinsFromRecord(step.oldState.outputs?.entries);
    if (recorded) {
      // The recorded entries carry no repo: take it from the manifest, where the entry still exists.
      const repos = new Map(headPins.map((p) => [p.key, p.repo]));
      const withRepos = recorded.map((p) => ({ ...p, repo: repos.get(p.key) }));
      return { pins: { changes: comparePins(withRepos, headPins), source: "recorded" } };
    }
  }
  return {
    pinNote:
      "Pins not compared: `--manifest` was given without `--base-manifest`, and the preview holds no pins the stack recorded.",
  };
}

const OPTIONS = {
  "preview-json": { type: "string" },
  manifest: { type: "string" },
  "base-manifest": { type: "string" },
  "diff-text": { type: "string" },
  "mask-env": { type: "string", multiple: true },
  summary: { type: "boolean" },
  post: { type: "boolean" },
  pr: { type: "string" },
  author: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function runPrReport(argv: string[], io: PrReportIo): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    io.stderr.write(`pr-report: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const masks = maskValues(io.env, values["mask-env"] ?? []);
  // Everything said on stderr is masked too: CI logs are as public as the comment.
  const fail = (message: string, code: number) => {
    io.stderr.write(`pr-report: ${maskText(message, masks)}\n`);
    return code;
  };

  let report: string;
  let post: { client: ForgeClient; pr: number } | undefined;
  try {
    const previewFile = values["preview-json"];
    if (!previewFile) throw new InputError("--preview-json <file> is required");
    if (values["base-manifest"] && !values.manifest) {
      throw new InputError("--base-manifest needs --manifest (the PR's manifest to compare with it)");
    }

    // Checked before any work, so a misconfigured workflow fails at once and says what is missing.
    if (values.post) {
      const token = io.env.GITHUB_TOKEN;
      if (!token) throw new InputError("--post needs GITHUB_TOKEN in the environment");
      const repository = io.env.GITHUB_REPOSITORY;
      if (!repository) throw new InputError("--post needs GITHUB_REPOSITORY (owner/name) in the environment");
      try {
        parseRepository(repository);
      } catch (err) {
        throw new InputError((err as Error).message);
      }
      let pr: number | undefined;
      if (values.pr !== undefined) {
        if (!/^[1-9]\d*$/.test(values.pr))
          throw new InputError(`--pr: expected a PR number, got "${values.pr}"`);
        pr = Number(values.pr);
      } else {
        pr = await prFromEvent(io.env.GITHUB_EVENT_PATH);
      }
      if (pr === undefined) {
        throw new InputError("--post needs --pr <number>, or GITHUB_EVENT_PATH holding a pull_request event");
      }
      const author = values.author ?? io.env.PR_REPORT_AUTHOR;
      if (author !== undefined && !author.trim()) throw new InputError("--author: expected a login");
      const client = new ForgeClient({
        apiUrl: io.env.GITHUB_API_URL || "https://api.github.com",
        repository,
        token,
        fetch: io.fetch,
        author,
        fallbackAuthor: io.env.GITEA_ACTIONS === "true" ? GITEA_ACTIONS_LOGIN : GITHUB_ACTIONS_LOGIN,
      });
      post = { client, pr };
    }

    const preview = sanitizePreview(
      parsePreview(await readInput(previewFile, "--preview-json"), previewFile),
      masks,
    );
    const head = values.manifest ? await readInput(values.manifest, "--manifest") : undefined;
    const base = values["base-manifest"]
      ? await readInput(values["base-manifest"], "--base-manifest")
      : undefined;
    const pinInfo = comparePinsFor(preview, head, base, {
      manifest: values.manifest,
      base: values["base-manifest"],
    });
    const diffText = values["diff-text"]
      ? maskText((await readInput(values["diff-text"], "--diff-text")).replace(/^\uFEFF/, ""), masks)
      : undefined;
    report = renderReport({ preview, ...pinInfo, diffText, masks });
  } catch (err) {
    if (err instanceof InputError || err instanceof ManifestError) return fail(err.message, 2);
    return fail(`unexpected error: ${(err as Error).stack ?? String(err)}`, 2);
  }

  io.stdout.write(report);

  if (values.summary) {
    const file = io.env.GITHUB_STEP_SUMMARY;
    if (!file) {
      io.stderr.write("pr-report: GITHUB_STEP_SUMMARY is not set: no job summary written\n");
    } else {
      try {
        await appendFile(file, `${report}\n`);
      } catch (err) {
        return fail(`writing the job summary ${file} failed: ${(err as Error).message}`, 1);
      }
    }
  }

  if (post) {
    try {
      const result = await post.client.upsertComment(post.pr, report, REPORT_MARKER);
      const why = {
        configured: "as configured",
        token: "the token's login",
        fallback: "the job token's bot, as GET /user was refused; --author names another",
      }[result.author.source];
      io.stderr.write(
        `pr-report: ${result.action} comment ${result.id} on PR #${post.pr}${result.url ? ` (${result.url})` : ""} as ${result.author.login} (${why})\n`,
      );
    } catch (err) {
      const message = err instanceof ForgeError ? err.message : ((err as Error).message ?? String(err));
      return fail(`posting the report failed: ${message}`, 1);
    }
  }
  return 0;
}
