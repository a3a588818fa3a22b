/**
 * One run's wall time split into the parts the no-op costs: what the engine's log times (CLI start, plugin
 * start, the images' Check and Diff) and what the program's marks time (lib/stack/phase-marks.ts). The parts
 * are consecutive, not overlapping: the program awaits each phase, and the images wait on the templates
 * record, so the engine checks them one after another. What neither times is "the rest".
 */
import type { PhaseRecord } from "../../lib/stack/phase-marks";
import type { EngineSpans } from "./engine-log";

export const PARTS = [
  "CLI start (launcher, backend, plugin discovery)",
  "Node start (language host to process)",
  "program load (SDK, modules, TypeScript compile)",
  "program: config",
  "program: staging",
  "program: Dockerfile gate",
  "program: builder preflight",
  "plugin start (dynamic provider, docker-build)",
  "image checks (Check)",
  "context hashing (image Diff)",
  "the rest (engine steps, state, exit)",
] as const;

export type Part = (typeof PARTS)[number];

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** Each part's ms for a run spawned at `spawnedAt` that exited at `exitedAt` (epoch ms). */
export function breakdown(
  run: { spawnedAt: number; exitedAt: number },
  log: EngineSpans,
  marks: PhaseRecord,
): Record<Part, number> {
  const phase = (name: string) => marks.phases[name] ?? 0;
  const parts: Omit<Record<Part, number>, "the rest (engine steps, state, exit)"> = {
    "CLI start (launcher, backend, plugin discovery)": log.runStart - run.spawnedAt,
    "Node start (language host to process)": marks.processStart - log.runStart,
    "program load (SDK, modules, TypeScript compile)": marks.programStart - marks.processStart,
    "program: config": phase("config"),
    "program: staging": phase("staging"),
    "program: Dockerfile gate": phase("gate"),
    "program: builder preflight": phase("preflight"),
    "plugin start (dynamic provider, docker-build)": sum(log.pluginStart),
    "image checks (Check)": sum(log.imageCheck),
    "context hashing (image Diff)": sum(log.imageDiff),
  };
  const total = run.exitedAt - run.spawnedAt;
  return { ...parts, "the rest (engine steps, state, exit)": total - sum(parts) };
}

export const totalOf = (parts: Record<Part, number>): number => sum(parts);
