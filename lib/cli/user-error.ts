/** The exit code of bad usage or bad input, the same in every command. */
export const USAGE_EXIT_CODE = 2;

/**
 * A failure that is the user's to fix (a flag, an input file, the environment), not a bug: the command runner
 * says its message alone, without a stack, and exits with its code.
 */
export class UserError extends Error {
  override name = "UserError";
  readonly exitCode: number;

  constructor(message: string, exitCode = USAGE_EXIT_CODE) {
    super(message);
    this.exitCode = exitCode;
  }
}
