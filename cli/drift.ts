import { backendFor } from "../lib/drift/backends";
import { runDriftCli } from "../lib/drift/cli";

runDriftCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, backendFor }).then(
  (code) => {
    process.exitCode = code;
  },
);
