/**
 * npm run local [-- up | preview | destroy | outputs | drift | stop] [pulumi flags...]   (default: up)
 *
 * The whole pipeline on this machine, on the real engine: a registry on 127.0.0.1:5000, a buildkitd on a unix
 * socket, the sample template repos, and `pulumi <command> --stack local` with a file state backend in
 * .pulumi-state/. `stop` stops every service it started, by pid.
 */
import { backendFor } from "../lib/drift/backends";
import { runDriftCli } from "../lib/drift/cli";
import { binaryPath } from "../lib/local/engine/go-build";
import { cacheRoot } from "../lib/local/engine/provision";
import { recipeOf } from "../lib/local/engine/recipes";
import { formatDuration } from "../lib/local/progress";
import { provisionLocal, pulumi, STACK, selectStack, stopLocal } from "../lib/local/stack";
import { type ImagesOutput, summarise } from "../lib/local/summary";

const COMMANDS = ["up", "preview", "destroy", "outputs", "drift", "stop"];
const log = (line: string) => console.error(line);

async function outputs(ctx: { env: NodeJS.ProcessEnv }): Promise<Record<string, unknown>> {
  const r = await pulumi(ctx, ["stack", "output", "--json", "--stack", STACK], { capture: true });
  return r.code === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as Record<string, unknown>) : {};
}

async function main(): Promise<number> {
  const [command = "up", ...extra] = process.argv.slice(2);
  if (!COMMANDS.includes(command)) {
    log(`local: unknown command ${command}: expected ${COMMANDS.join(", ")}`);
    return 2;
  }
  const started = Date.now();
  if (command === "stop") {
    await stopLocal(log, binaryPath(cacheRoot(), recipeOf("buildkit"), "buildkitd"));
    return 0;
  }
  const ctx = await provisionLocal(log);
  log(`local: provisioned in ${formatDuration(Date.now() - started)}`);
  await selectStack(ctx);
  switch (command) {
    case "drift":
      // The drift check reads `pulumi stack output --stack local` with the same engine and backend.
      Object.assign(process.env, ctx.env);
      return runDriftCli(["--stack", STACK, ...extra], {
        stdout: process.stdout,
        stderr: process.stderr,
        backendFor,
      });
    case "preview":
      return (await pulumi(ctx, ["preview", "--stack", STACK, ...extra])).code;
    case "destroy":
      return (await pulumi(ctx, ["destroy", "--stack", STACK, "--yes", ...extra])).code;
    case "outputs":
      return (await pulumi(ctx, ["stack", "output", "--json", "--stack", STACK, ...extra])).code;
  }
  const before = await outputs(ctx);
  const up = await pulumi(ctx, ["up", "--stack", STACK, "--yes", "--skip-preview", ...extra]);
  if (up.code !== 0) return up.code;
  const after = await outputs(ctx);
  console.log(
    summarise(
      before.images as ImagesOutput | undefined,
      after.images as ImagesOutput,
      after.runtimeImagePins,
      Date.now() - started,
    ),
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    log(`local: ${err.message}`);
    process.exitCode = 1;
  },
);
