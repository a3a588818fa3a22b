/**
 * npm run -s stage -- --manifest <file> --dest <dir> [--git-base-url <url>] [--concurrency N]
 *                     [--allow-missing-private] [--attempts N] [--retry-delay-ms N] [--quiet]
 * (-s: without it npm prints its own banner on stdout, ahead of the JSON.)
 *
 * The command, its output and its exit codes: lib/cli/commands/stage.ts.
 */
// First: refuses a stale build before any other module of it loads.
import "../lib/cli/fresh-build";
import { constants } from "node:os";
import { noteNpmBanner, STAGE_COMMAND } from "../lib/cli/commands/stage";
import { runMain } from "../lib/cli/runner";
import { killGitGroups } from "../lib/templates/git/process";

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

noteNpmBanner(process.env, process.stderr);
runMain(STAGE_COMMAND, {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
