/**
 * npm run drift -- (--stack <name> | --outputs <file>) [--max-age-days N] [--scan-prefix <prefix>]
 *                  [--json] [--markdown <file>]
 *
 * Exit 0: every image ok. 1: drift found. 2: something could not be checked (auth, network, malformed input,
 * a registry error). Never 0 for a repository that was not checked.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { z } from "zod";
import { integerFlag } from "../cli/flags";
import { readInput } from "../cli/input";
import { type Command, type Flags, runCommand, stackOf } from "../cli/runner";
import { UserError } from "../cli/user-error";
import { type CheckOptions, checkDrift, parseOutputs } from "./check";
import { exitCode } from "./classify";
import { renderJson, renderMarkdown, renderTable } from "./report";

export const USAGE = `usage: npm run drift -- (--stack <name> | --outputs <file>) [options]

  --stack <name>          read the expected state with: pulumi stack output --json --show-secrets=false --stack <name>
  --outputs <file>        read it from a file of that shape instead ({ "images": { ... } })
  --max-age-days <n>      stale when the newest push is older (default 14)
  --scan-prefix <prefix>  also report repositories under the prefix that the stack does not declare
  --json                  print { results, summary } instead of the table
  --markdown <file>       also write a markdown report (CI job summaries, issues)`;

/**
 * How long the process may linger after its report (cli/drift.ts exits then, whatever a backend left
 * running): with DEFAULT_DRIFT_DEADLINE_MS, the bound on a run against a registry that never answers.
 */
export const EXIT_GRACE_MS = 5_000;

export interface DriftIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  backendFor: CheckOptions["backendFor"];
  now?: Date;
  /** The check's deadline; default DEFAULT_DRIFT_DEADLINE_MS. For tests. */
  deadlineMs?: number;
  /** Runs `pulumi stack output`; injectable for tests. */
  stackOutputs?: (stack: string) => Promise<string>;
}

function pulumiStackOutputs(stack: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "pulumi",
      ["stack", "output", "--json", "--show-secrets=false", "--stack", stack],
      { maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err)
          reject(
            new UserError(`pulumi stack output --stack ${stack} failed: ${stderr.trim() || err.message}`),
          );
        else resolve(stdout);
      },
    );
  });
}

const OPTIONS = {
  stack: { type: "string" },
  outputs: { type: "string" },
  "max-age-days": { type: "string" },
  "scan-prefix": { type: "string" },
  json: { type: "boolean" },
  markdown: { type: "string" },
} satisfies Flags;

// Checked first, before any value: with neither source nothing else is worth saying.
const oneSource = z
  .looseObject({ stack: z.string().optional(), outputs: z.string().optional() })
  .refine(
    (v) => (v.stack === undefined) !== (v.outputs === undefined),
    "give exactly one of --stack or --outputs",
  );

const driftArgs = oneSource.pipe(
  z.object({
    stack: z.string().optional(),
    outputs: z.string().optional(),
    "max-age-days": integerFlag("max-age-days", { min: 0, fallback: 14, expected: "a whole number of days" }),
    "scan-prefix": z.string().optional(),
    json: z.boolean().optional(),
    markdown: z.string().optional(),
  }),
);

type DriftArgs = z.infer<typeof driftArgs>;

async function run(args: DriftArgs, io: DriftIo): Promise<number> {
  const { stack, outputs: file } = args;
  const maxAgeDays = args["max-age-days"];
  const source = stack !== undefined ? `stack ${stack}` : (file as string);
  const text =
    stack !== undefined
      ? await (io.stackOutputs ?? pulumiStackOutputs)(stack)
      : await readInput(file as string);
  const images = parseOutputs(text, source);
  const now = io.now ?? new Date();
  const results = await checkDrift(images, {
    maxAgeDays,
    scanPrefix: args["scan-prefix"],
    now,
    deadlineMs: io.deadlineMs,
    backendFor: io.backendFor,
  });
  io.stdout.write(args.json ? renderJson(results) : renderTable(results, io.stdout.isTTY === true));
  if (args.markdown) await writeFile(args.markdown, renderMarkdown(results, { source, maxAgeDays, at: now }));
  return exitCode(results);
}

/** A registry error is a result (exit 2 through exitCode); a crash is exit 2 too: never 0 unchecked. */
export const DRIFT_COMMAND: Command<DriftArgs, DriftIo> = {
  name: "drift",
  usage: USAGE,
  options: OPTIONS,
  schema: driftArgs,
  run,
  crash: { exitCode: 2, describe: stackOf },
};

export function runDriftCli(argv: string[], io: DriftIo): Promise<number> {
  return runCommand(DRIFT_COMMAND, argv, io);
}
