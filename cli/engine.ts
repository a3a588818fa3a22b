/**
 * npm run engine [-- --no-download] [--no-buildkit]
 *
 * Makes the pinned Pulumi engine (CLI, Node.js language host, docker-build plugin) and BuildKit available,
 * building them with Go from the module proxy where they cannot be downloaded. A warm run builds nothing.
 * Exit codes: 0 ready, 1 a build or install failed (the step and the kept log are named).
 */
import { parseArgs } from "node:util";
import { cliDir, provisionEngine } from "../lib/local/engine/provision";
import { formatDuration } from "../lib/local/progress";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "no-download": { type: "boolean", default: false },
      "no-buildkit": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.error("usage: npm run engine [-- --no-download] [--no-buildkit]");
    return 0;
  }
  const started = Date.now();
  const engine = await provisionEngine({
    buildkit: !values["no-buildkit"],
    download: !values["no-download"],
    log: (line) => console.error(line),
  });
  for (const [part, source] of Object.entries(engine.sources)) console.error(`engine: ${part}: ${source}`);
  console.error(`engine: ready in ${formatDuration(Date.now() - started)} (CLI in ${cliDir()})`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`engine: ${err.message}`);
    process.exitCode = 1;
  },
);
