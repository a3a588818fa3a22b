/**
 * How the program fails on the real engine. When an async program rejects, the Node SDK's open connections
 * keep the process alive about 25 s longer than when it logs and exits (measured on the local stack: a
 * failing preview took 27-30 s against 5 s), and every failed pull-request preview would pay that. So the
 * failure is logged as an error, without a stack for the errors this project raises for bad input, and the
 * process exits with 32: the code the Node SDK itself uses for "exited after logging a user-actionable
 * message". Under the mock runtime (no engine monitor), and for errors that are not this project's bad-input
 * errors, the error propagates as usual.
 */
import * as pulumi from "@pulumi/pulumi";

const USER_ERRORS = new Set([
  "ConfigError",
  "GraphError",
  "ManifestError",
  "DockerfileGateError",
  "BuilderError",
  "StageError",
  "DestinationError",
  "LockError",
]);

export const LOGGED_EXIT_CODE = 32;

const isUserError = (err: unknown) =>
  err instanceof pulumi.RunError || (err instanceof Error && USER_ERRORS.has(err.name));

export function errorText(err: unknown): string {
  if (err instanceof pulumi.RunError) return err.message;
  if (err instanceof Error) return USER_ERRORS.has(err.name) ? err.message : (err.stack ?? err.message);
  return String(err);
}

export function failFast<T>(main: () => Promise<T>): () => Promise<T> {
  return async () => {
    try {
      return await main();
    } catch (err) {
      // Only the checks that run before any resource end the process: an unexpected error may come while
      // resources are registering, and the SDK's own path lets those settle.
      if (!process.env.PULUMI_NODEJS_MONITOR || !isUserError(err)) throw err;
      await pulumi.log.error(errorText(err));
      process.exit(LOGGED_EXIT_CODE);
    }
  };
}
