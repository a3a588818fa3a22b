/**
 * npm run drift -- (--stack <name> | --outputs <file>) [--max-age-days N] [--scan-prefix <prefix>]
 *                  [--json] [--markdown <file>]
 *
 * Exit 0: every image ok. 1: drift found. 2: something could not be checked (auth, network, malformed input,
 * a registry error). Never 0 for a repository that was not checked.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type CheckOptions, checkDrift, InputError, parseOutputs } from "./check";
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
            new InputError(`pulumi stack output --stack ${stack} failed: ${stderr.trim() || err.message}`),
          );
        else resolve(stdout);
      },
    );
  });
}

export async function runDriftCli(argv: string[], io: DriftIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        stack: { type: "string" },
        outputs: { type: "string" },
        "max-age-days": { type: "string" },
        "scan-prefix": { type: "string" },
        json: { type: "boolean" },
        markdown: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr.write(`drift: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const stack = values.stack as string | undefined;
    const file = values.outputs as string | undefined;
    if ((stack === undefined) === (file === undefined))
      throw new InputError("give exactly one of --stack or --outputs");
    const maxAgeText = (values["max-age-days"] as string | undefined) ?? "14";
    const maxAgeDays = Number(maxAgeText);
    if (!Number.isInteger(maxAgeDays) || maxAgeDays < 0) {
      throw new InputError(`--max-age-days: expected a whole number of days, got "${maxAgeText}"`);
    }
    const source = stack !== undefined ? `stack ${stack}` : (file as string);
    const text =
      stack !== undefined
        ? await (io.stackOutputs ?? pulumiStackOutputs)(stack)
        : await readFile(file as string, "utf8").catch((err: NodeJS.ErrnoException) => {
            throw new InputError(`${file}: cannot read (${err.code})`);
          });
    const images = parseOutputs(text, source);
    const now = io.now ?? new Date();
    const results = await checkDrift(images, {
      maxAgeDays,
      scanPrefix: values["scan-prefix"] as string | undefined,
      now,
      deadlineMs: io.deadlineMs,
      backendFor: io.backendFor,
    });
    io.stdout.write(values.json ? renderJson(results) : renderTable(results, io.stdout.isTTY === true));
    if (values.markdown)
      await writeFile(values.markdown as string, renderMarkdown(results, { source, maxAgeDays, at: now }));
    return exitCode(results);
  } catch (err) {
    io.stderr.write(
      `drift: ${err instanceof InputError ? err.message : ((err as Error).stack ?? String(err))}\n`,
    );
    return 2;
  }
}
