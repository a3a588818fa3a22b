/**
 * The engine command (cli/engine.ts is its entry point): makes the pinned Pulumi engine (CLI, Node.js
 * language host, docker-build plugin) and BuildKit available, building them with Go from the module proxy
 * where they cannot be downloaded. A warm run builds nothing.
 * Exit codes: 0 ready, 1 a build or install failed (the step and the kept log are named), or a bad flag.
 * Everything goes to stderr: the command has no output of its own.
 */
import { z } from "zod";
import { cliDir, provisionEngine } from "../../local/engine/provision";
import { formatDuration } from "../../local/progress";
import { type Command, type CommandIo, type Flags, messageOf } from "../runner";

const OPTIONS = {
  "no-download": { type: "boolean", default: false },
  "no-buildkit": { type: "boolean", default: false },
} satisfies Flags;

const engineArgs = z.object({ "no-download": z.boolean(), "no-buildkit": z.boolean() });

type EngineArgs = z.infer<typeof engineArgs>;

async function run(args: EngineArgs, io: CommandIo): Promise<number> {
  const log = (line: string) => io.stderr.write(`${line}\n`);
  const started = Date.now();
  const engine = await provisionEngine({
    buildkit: !args["no-buildkit"],
    download: !args["no-download"],
    log,
  });
  for (const [part, source] of Object.entries(engine.sources)) log(`engine: ${part}: ${source}`);
  log(`engine: ready in ${formatDuration(Date.now() - started)} (CLI in ${cliDir()})`);
  return 0;
}

export const ENGINE_COMMAND: Command<EngineArgs> = {
  name: "engine",
  usage: "usage: npm run engine [-- --no-download] [--no-buildkit]",
  options: OPTIONS,
  schema: engineArgs,
  run,
  helpTo: "stderr",
  // Its exit codes are 0 and 1 only, and a failed build says its step rather than a stack.
  badUsage: { exitCode: 1, showUsage: false },
  crash: { exitCode: 1, describe: messageOf },
};
