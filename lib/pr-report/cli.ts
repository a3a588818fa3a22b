/**
 * npm run pr-report -- --preview-json <file> [--manifest <file> [--base-manifest <file>]] [--diff-text <file>]
 *                      [--mask-env NAME]... [--summary] [--post [--pr <number>] [--author <login>]]
 *
 * Reads the files, sanitises, renders (render.ts), then prints the report and optionally appends it to the
 * job summary and posts it on the pull request (forge.ts). The I/O lives here; the decisions do not.
 *
 * Exit 0: done. 1: posting (or writing the job summary) failed. 2: bad usage or input.
 */
import { appendFile } from "node:fs/promises";
import { z } from "zod";
import { requiredFlag } from "../cli/flags";
import { readInput } from "../cli/input";
import { type Command, type Flags, runCommand, stackOf } from "../cli/runner";
import { UserError } from "../cli/user-error";
import { ManifestError, parseManifest } from "../manifest/contract";
import { stripBom } from "../text/bom";
import type { PinInfo } from "./images";
import { comparePins, pinsFromManifest, pinsFromRecord, RECORD_NAME, RECORD_TYPE } from "./pins";
import { type PostTarget, postTarget } from "./post-target";
import { type PreviewDigest, parsePreview, parseUrn, sanitizePreview } from "./preview";
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
} satisfies Flags;

const prReportArgs = z
  .object({
    "preview-json": requiredFlag("--preview-json <file> is required"),
    manifest: z.string().optional(),
    "base-manifest": z.string().optional(),
    "diff-text": z.string().optional(),
    "mask-env": z.array(z.string()).default([]),
    summary: z.boolean().optional(),
    post: z.boolean().optional(),
    pr: z.string().optional(),
    author: z.string().optional(),
  })
  .refine(
    (v) => !v["base-manifest"] || v.manifest,
    "--base-manifest needs --manifest (the PR's manifest to compare with it)",
  );

type PrReportArgs = z.infer<typeof prReportArgs>;

/** A file a flag names: a failure to read it says both. */
const readFlagFile = (flag: string, file: string) => readInput(file, `${flag} ${file}`);

async function buildReport(args: PrReportArgs, masks: string[]): Promise<string> {
  const previewFile = args["preview-json"];
  const preview = sanitizePreview(
    parsePreview(await readFlagFile("--preview-json", previewFile), previewFile),
    masks,
  );
  const { manifest, "base-manifest": baseManifest, "diff-text": diffFile } = args;
  const head = manifest ? await readFlagFile("--manifest", manifest) : undefined;
  const base = baseManifest ? await readFlagFile("--base-manifest", baseManifest) : undefined;
  const pinInfo = comparePinsFor(preview, head, base, { manifest, base: baseManifest });
  const diffText = diffFile
    ? maskText(stripBom(await readFlagFile("--diff-text", diffFile)), masks)
    : undefined;
  return renderReport({ preview, ...pinInfo, diffText, masks });
}

async function appendSummary(report: string, io: PrReportIo): Promise<void> {
  const file = io.env.GITHUB_STEP_SUMMARY;
  if (!file) {
    io.stderr.write("pr-report: GITHUB_STEP_SUMMARY is not set: no job summary written\n");
    return;
  }
  try {
    await appendFile(file, `${report}\n`);
  } catch (err) {
    throw new UserError(`writing the job summary ${file} failed: ${(err as Error).message}`, 1);
  }
}

async function postReport({ client, pr }: PostTarget, report: string, io: PrReportIo): Promise<void> {
  try {
    const result = await client.upsertComment(pr, report, REPORT_MARKER);
    const why = {
      configured: "as configured",
      token: "the token's login",
      fallback: "the job token's bot, as GET /user was refused; --author names another",
    }[result.author.source];
    io.stderr.write(
      `pr-report: ${result.action} comment ${result.id} on PR #${pr}${result.url ? ` (${result.url})` : ""} as ${result.author.login} (${why})\n`,
    );
  } catch (err) {
    throw new UserError(`posting the report failed: ${(err as Error).message ?? String(err)}`, 1);
  }
}

async function run(args: PrReportArgs, io: PrReportIo): Promise<number> {
  const masks = maskValues(io.env, args["mask-env"]);
  const post = args.post ? await postTarget(args, io) : undefined;
  const report = await buildReport(args, masks);
  io.stdout.write(report);
  if (args.summary) await appendSummary(report, io);
  if (post) await postReport(post, report, io);
  return 0;
}

export const PR_REPORT_COMMAND: Command<PrReportArgs, PrReportIo> = {
  name: "pr-report",
  usage: USAGE,
  options: OPTIONS,
  schema: prReportArgs,
  run,
  userErrors: [ManifestError],
  // parseArgs gives a `multiple` flag as string[]. Everything said on stderr is masked: CI logs are as
  // public as the comment.
  redact: (raw, io) => {
    const masks = maskValues(io.env, (raw["mask-env"] as string[] | undefined) ?? []);
    return (text) => maskText(text, masks);
  },
  // Before the report is out, nothing was posted: a crash is bad input as far as CI is concerned.
  crash: { exitCode: 2, describe: (err) => `unexpected error: ${stackOf(err)}` },
};

export function runPrReport(argv: string[], io: PrReportIo): Promise<number> {
  return runCommand(PR_REPORT_COMMAND, argv, io);
}
