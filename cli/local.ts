// npm run local [-- up | preview | destroy | outputs | drift | stop] [pulumi flags...]: the whole pipeline on
// this machine, on the real engine (lib/cli/commands/local.ts).
// First: refuses a stale build before any other module of it loads.
import "../lib/cli/fresh-build";
import { LOCAL_COMMAND } from "../lib/cli/commands/local";
import { runMain } from "../lib/cli/runner";

runMain(LOCAL_COMMAND, { stdout: process.stdout, stderr: process.stderr });
