/**
 * The first import of every command in cli/: run from dist/, it refuses to go on when the sources changed
 * since the build, before any other module of the old build is loaded (CommonJS requires run in order).
 * A stale build is refused, not rebuilt: a rebuild takes tsc 15-40 s here, and two commands started at
 * once would write dist/ under each other. Run from the sources (tsx, the tests) there is nothing to check.
 */
import { basename } from "node:path";
import { PROJECT_ROOT } from "../os/project-root";
import { currentSources, readStamp, staleReason } from "./build-stamp";
import { USAGE_EXIT_CODE } from "./user-error";

if (!__filename.endsWith(".ts")) {
  const command = basename(process.argv[1] ?? "command").replace(/\.js$/, "");
  const built = readStamp(PROJECT_ROOT);
  const reason = staleReason(command, built, currentSources(PROJECT_ROOT, built));
  if (reason !== undefined) {
    process.stderr.write(`${reason}\n`);
    process.exit(USAGE_EXIT_CODE);
  }
}
