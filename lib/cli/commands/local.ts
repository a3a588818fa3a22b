/**
 * The local command (cli/local.ts is its entry point): the whole pipeline on this machine, on the real
 * engine: a registry on 127.0.0.1:5000, a buildkitd on a unix socket, the sample template repos, and
 * `pulumi <command> --stack local` with a file state backend in .pulumi-state/. `stop` stops every service
 * it started, by pid. Exit codes: pulumi's own, 2 an unknown command, 1 a failure to provision.
 */
import { z } from "zod";
import { backendFor } from "../../drift/backends";
import { runDriftCli } from "../../drift/cli";
import { binaryPath } from "../../local/engine/go-build";
import { recipeOf } from "../../local/engine/recipes";
import { formatDuration } from "../../local/progress";
import { type LocalContext, provisionLocal, pulumi, STACK, selectStack, stopLocal } from "../../local/stack";
import { type ImagesOutput, summarise } from "../../local/summary";
import { userCacheDir } from "../../os/cache-dir";
import { type Command, messageOf } from "../runner";

const COMMANDS = ["up", "preview", "destroy", "outputs", "drift", "stop"];

const USAGE = `usage: npm run local [-- ${COMMANDS.join(" | ")}] [pulumi flags...]   (default: up)`;

export interface LocalIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

// The flags after the command are Pulumi's (or the drift check's), passed on as typed.
const localArgs = z
  .object({ positionals: z.array(z.string()) })
  .transform(({ positionals: [command = "up", ...extra] }, ctx) => {
    if (!COMMANDS.includes(command)) {
      ctx.addIssue({
        code: "custom",
        message: `unknown command ${command}: expected ${COMMANDS.join(", ")}`,
      });
      return z.NEVER;
    }
    return { command, extra };
  });

type LocalArgs = z.infer<typeof localArgs>;

async function outputs(ctx: { env: NodeJS.ProcessEnv }): Promise<Record<string, unknown>> {
  const r = await pulumi(ctx, ["stack", "output", "--json", "--stack", STACK], { capture: true });
  return r.code === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {};
}

/** `pulumi up`, then what it built and what it left alone, from the outputs before and after. */
async function up(ctx: LocalContext, extra: string[], started: number, io: LocalIo): Promise<number> {
  const before = await outputs(ctx);
  const run = await pulumi(ctx, ["up", "--stack", STACK, "--yes", "--skip-preview", ...extra]);
  if (run.code !== 0) return run.code;
  const after = await outputs(ctx);
  const summary = summarise(
    before.images as ImagesOutput | undefined,
    after.images as ImagesOutput,
    after.runtimeImagePins,
    Date.now() - started,
  );
  io.stdout.write(`${summary}\n`);
  return 0;
}

async function run({ command, extra }: LocalArgs, io: LocalIo): Promise<number> {
  const log = (line: string) => io.stderr.write(`${line}\n`);
  const started = Date.now();
  if (command === "stop") {
    await stopLocal(log, binaryPath(userCacheDir(), recipeOf("buildkit"), "buildkitd"));
    return 0;
  }
  const ctx = await provisionLocal(log);
  log(`local: provisioned in ${formatDuration(Date.now() - started)}`);
  await selectStack(ctx);
  switch (command) {
    case "drift":
      // The drift check reads `pulumi stack output --stack local` with the same engine and backend.
      Object.assign(process.env, ctx.env);
      return runDriftCli(["--stack", STACK, ...extra], { stdout: io.stdout, stderr: io.stderr, backendFor });
    case "preview":
      return (await pulumi(ctx, ["preview", "--stack", STACK, ...extra])).code;
    case "destroy":
      return (await pulumi(ctx, ["destroy", "--stack", STACK, "--yes", ...extra])).code;
    case "outputs":
      return (await pulumi(ctx, ["stack", "output", "--json", "--stack", STACK, ...extra])).code;
  }
  return up(ctx, extra, started, io);
}

export const LOCAL_COMMAND: Command<LocalArgs, LocalIo> = {
  name: "local",
  usage: USAGE,
  schema: localArgs,
  run,
  crash: { exitCode: 1, describe: messageOf },
};
