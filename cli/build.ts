// npm run build (also npm's `prepare`, so `npm ci` runs it): compiles the program and its commands into
// dist/ with tsconfig.build.json, bundles each command into one file (lib/build/bundle.ts), then stamps
// what it compiled, which every command checks first (lib/cli/fresh-build.ts).
import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleCommands } from "../lib/build/bundle";
import { currentSources, DIST, STAMP_FILE, stampOf } from "../lib/cli/build-stamp";
import { PROJECT_ROOT } from "../lib/os/project-root";

// Hashed before tsc reads the sources: an edit made while it compiles then shows as stale, never as built.
const stamp = stampOf(currentSources(PROJECT_ROOT));
const stampPath = join(PROJECT_ROOT, STAMP_FILE);
// Without a stamp, a build that fails or is cut short leaves dist/ refused, not half-trusted.
rmSync(stampPath, { force: true });
const tsc = spawnSync(
  process.execPath,
  [require.resolve("typescript/bin/tsc"), "-p", join(PROJECT_ROOT, "tsconfig.build.json")],
  { stdio: "inherit", cwd: PROJECT_ROOT },
);
if (tsc.status !== 0) {
  process.stderr.write(`build: tsc failed (exit ${tsc.status ?? tsc.signal}); dist/ has no stamp\n`);
  process.exit(1);
}
try {
  bundleCommands(PROJECT_ROOT, join(PROJECT_ROOT, DIST));
} catch (err) {
  process.stderr.write(
    `build: bundling the commands failed (${(err as Error).message}); dist/ has no stamp\n`,
  );
  process.exit(1);
}
mkdirSync(join(PROJECT_ROOT, DIST), { recursive: true });
writeFileSync(`${stampPath}.tmp`, `${JSON.stringify(stamp, null, 1)}\n`);
renameSync(`${stampPath}.tmp`, stampPath);
