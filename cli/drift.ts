import { backendFor } from "../lib/drift/backends";
import { EXIT_GRACE_MS, runDriftCli } from "../lib/drift/cli";

runDriftCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, backendFor }).then(
  (code) => {
    process.exitCode = code;
    // Normally nothing is left and the process ends now. A request a backend did not abort must not keep
    // it alive past the check's deadline: exit anyway (unref'd, so this timer alone keeps nothing alive).
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  },
);
