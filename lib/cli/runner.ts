/**
 * One way to run every command: parse its flags (node:util parseArgs), validate them (a zod schema), answer
 * --help, run it, and turn what it throws into an exit code and one line on stderr. A command states only
 * what is its own; the sequence, and the line between a user's mistake and a bug, is here once.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { z } from "zod";
import { USAGE_EXIT_CODE, UserError } from "./user-error";

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** A command's flags, as parseArgs takes them. */
export type Flags = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs' values by flag name, and the positional arguments. */
export type RawArgs = Record<string, unknown> & { positionals: string[] };

type ErrorClass = abstract new (...args: never[]) => Error;

export interface Command<Args, Io extends CommandIo = CommandIo> {
  /** What every line the runner writes starts with: "stage: ...". */
  name: string;
  usage: string;
  /**
   * The flags (parsed strictly, no positionals; --help/-h is added). Without them, every argument is a
   * positional passed through as typed (to another tool), and only a leading --help or -h is the runner's.
   */
  options?: Flags;
  /** Turns the raw arguments into the command's; the first issue's message is what the user is told. */
  schema: z.ZodType<Args>;
  run: (args: Args, io: Io) => Promise<number>;
  /** Other modules' errors that mean bad input, not a bug: reported like a UserError (exit 2). */
  userErrors?: readonly ErrorClass[];
  /** Masks all the runner says on stderr once the flags are parsed: CI logs can be public. */
  redact?: (raw: RawArgs, io: Io) => (text: string) => string;
  /** Where --help prints the usage (default stdout). */
  helpTo?: "stdout" | "stderr";
  /** Bad usage: its exit code (default 2), and whether the usage follows a rejected flag (default yes). */
  badUsage?: { exitCode: number; showUsage: boolean };
  /** Anything else thrown: its exit code (default 1) and what is said of it (default its stack). */
  crash?: { exitCode: number; describe: (err: unknown) => string };
}

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
export const stackOf = (err: unknown): string => (err as Error | undefined)?.stack ?? String(err);

/** Whether `err` is bad input for this command: a UserError or one of its `userErrors`. */
export function isUserError(err: unknown, userErrors: readonly ErrorClass[] = []): err is Error {
  return err instanceof UserError || userErrors.some((kind) => err instanceof kind);
}

function parse(flags: Flags | undefined, argv: string[]): RawArgs {
  if (!flags) {
    const help = argv[0] === "--help" || argv[0] === "-h";
    return { help, positionals: help ? [] : argv };
  }
  const options: Flags = { ...flags, help: { type: "boolean", short: "h" } };
  const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  return { ...values, positionals };
}

/** Runs `cmd` on `argv`; never throws, always settles on an exit code. */
export async function runCommand<Args, Io extends CommandIo>(
  cmd: Command<Args, Io>,
  argv: string[],
  io: Io,
): Promise<number> {
  const usageExitCode = cmd.badUsage?.exitCode ?? USAGE_EXIT_CODE;
  let raw: RawArgs;
  try {
    raw = parse(cmd.options, argv);
  } catch (err) {
    const usage = (cmd.badUsage?.showUsage ?? true) ? `\n${cmd.usage}` : "";
    io.stderr.write(`${cmd.name}: ${messageOf(err)}${usage}\n`);
    return usageExitCode;
  }
  if (raw.help === true) {
    io[cmd.helpTo ?? "stdout"].write(`${cmd.usage}\n`);
    return 0;
  }
  const redact = cmd.redact?.(raw, io) ?? ((text: string) => text);
  const tell = (text: string, code: number) => {
    io.stderr.write(`${cmd.name}: ${redact(text)}\n`);
    return code;
  };
  const args = cmd.schema.safeParse(raw);
  if (!args.success) return tell(args.error.issues[0]?.message ?? "invalid arguments", usageExitCode);
  try {
    return await cmd.run(args.data, io);
  } catch (err) {
    if (isUserError(err, cmd.userErrors)) {
      return tell(err.message, err instanceof UserError ? err.exitCode : USAGE_EXIT_CODE);
    }
    return tell((cmd.crash?.describe ?? stackOf)(err), cmd.crash?.exitCode ?? 1);
  }
}

/**
 * For the entry points in cli/: runs `cmd` on this process's arguments and sets the exit code, leaving the
 * process to end by itself once nothing is left running.
 */
export async function runMain<Args, Io extends CommandIo>(cmd: Command<Args, Io>, io: Io): Promise<number> {
  const code = await runCommand(cmd, process.argv.slice(2), io);
  process.exitCode = code;
  return code;
}
