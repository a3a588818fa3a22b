// npm run drift: the registries against the stack's outputs (lib/drift/cli.ts has the flags).
// First: refuses a stale build before any other module of it loads.
import "../lib/cli/fresh-build";
import { runMain } from "../lib/cli/runner";
import { backendFor } from "../lib/drift/backends";
import { DRIFT_COMMAND, EXIT_GRACE_MS } from "../lib/drift/cli";

runMain(DRIFT_COMMAND, { stdout: process.stdout, stderr: process.stderr, backendFor }).then((code) => {
  // Normally nothing is left and the process ends now. A request a backend did not abort must not keep
  // it alive past the check's deadline: exit anyway (unref'd, so this timer alone keeps nothing alive).
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
});
