// npm run pr-report: the PR report from `pulumi preview --json` (lib/pr-report/cli.ts has the flags).
import { runPrReport } from "../lib/pr-report/cli";

runPrReport(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
);
