// npm run pr-report: the PR report from `pulumi preview --json` (lib/pr-report/cli.ts has the flags).
// First: refuses a stale build before any other module of it loads.
import "../lib/cli/fresh-build";
import { runMain } from "../lib/cli/runner";
import { PR_REPORT_COMMAND } from "../lib/pr-report/cli";

runMain(PR_REPORT_COMMAND, { stdout: process.stdout, stderr: process.stderr, env: process.env });
