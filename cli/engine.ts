// npm run engine [-- --no-download] [--no-buildkit]: the pinned Pulumi engine and BuildKit, downloaded or
// built (lib/cli/commands/engine.ts).
// First: refuses a stale build before any other module of it loads.
import "../lib/cli/fresh-build";
import { ENGINE_COMMAND } from "../lib/cli/commands/engine";
import { runMain } from "../lib/cli/runner";

runMain(ENGINE_COMMAND, { stdout: process.stdout, stderr: process.stderr });
