/** One measured no-op run: the CLI with the engine's verbose log and the program's phase marks on. */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "../../lib/local/stack";
import type { PhaseRecord } from "../../lib/stack/phase-marks";
import { run } from "../../test/support/real-stack";
import { breakdown, type Part } from "./breakdown";
import { engineSpans } from "./engine-log";
import type { NoopWorld, Tree, Variant } from "./world";

const LAUNCHER = join(PROJECT, "node_modules", ".bin", "pulumi");

export const COMMANDS = ["preview", "up"] as const;
export type Command = (typeof COMMANDS)[number];

export interface NoopRun {
  command: Command;
  tree: Tree;
  variant: Variant;
  wallMs: number;
  parts: Record<Part, number>;
}

const ARGS: Record<Command, string[]> = {
  preview: ["preview", "--expect-no-changes"],
  up: ["up", "--yes", "--skip-preview", "--expect-no-changes"],
};

export async function measureRun(
  w: NoopWorld,
  command: Command,
  tree: Tree,
  variant: Variant,
): Promise<NoopRun> {
  const cwd = w.use(variant);
  const marksFile = join(w.stack.dir, "phases.jsonl");
  rmSync(marksFile, { force: true });
  const spawnedAt = Date.now();
  const r = await run(LAUNCHER, [...ARGS[command], "--stack", w.stackName[tree], "-v=7", "--logtostderr"], {
    cwd,
    env: { ...w.stack.env, MOLECULE_PHASE_LOG: marksFile },
  });
  const exitedAt = Date.now();
  // --expect-no-changes: a run that is not a no-op fails here instead of being timed as one.
  if (r.code !== 0)
    throw new Error(`${command} ${tree} (${variant}) exited ${r.code}:\n${r.stdout.slice(-3000)}`);
  const marks = JSON.parse(readFileSync(marksFile, "utf8").trim().split("\n").at(-1) ?? "") as PhaseRecord;
  const parts = breakdown({ spawnedAt, exitedAt }, engineSpans(r.stderr), marks);
  return { command, tree, variant, wallMs: exitedAt - spawnedAt, parts };
}
