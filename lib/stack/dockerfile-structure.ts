/**
 * A Dockerfile's structure as BuildKit sees it, over dockerfile-ast: the global ARGs before the first FROM,
 * the stages, each stage's ARG declarations, and what a COPY copies. The contract's rules read only this.
 */
import type { Instruction } from "dockerfile-ast";

export interface Stage {
  from: Instruction;
  name?: string;
  instructions: Instruction[];
}

export const lineOf = (i: Instruction) => i.getRange().start.line + 1;

// Instruction declares getHeredocs protected; COPY, ADD and RUN make it public.
export const hasHeredoc = (i: Instruction) =>
  ((i as unknown as { getHeredocs?: () => unknown[] }).getHeredocs?.() ?? []).length > 0;

export function argDeclarations(
  instructions: Instruction[],
): Map<string, { line: number; value: string | null }> {
  const declared = new Map<string, { line: number; value: string | null }>();
  for (const i of instructions) {
    if (i.getKeyword() !== "ARG") continue;
    // ARG takes several names on one line (ARG A B=1); the parser exposes them as arguments.
    for (const arg of i.getArguments()) {
      const [name = "", ...value] = arg.getValue().split("=");
      if (!declared.has(name))
        declared.set(name, { line: lineOf(i), value: value.length ? value.join("=") : null });
    }
  }
  return declared;
}

export function stagesOf(instructions: Instruction[]): { globals: Instruction[]; stages: Stage[] } {
  const globals: Instruction[] = [];
  const stages: Stage[] = [];
  for (const i of instructions) {
    if (i.getKeyword() === "FROM") {
      const args = i.getArguments().map((a) => a.getValue());
      const as = args.findIndex((a) => a.toLowerCase() === "as");
      stages.push({ from: i, name: as >= 0 ? args[as + 1] : undefined, instructions: [] });
    } else if (stages.length === 0) globals.push(i);
    else stages[stages.length - 1]?.instructions.push(i);
  }
  return { globals, stages };
}

/** Expands $NAME and ${NAME} from `values`; undefined when a reference has no known value. */
export function expand(text: string, values: Map<string, string | undefined>): string | undefined {
  let unknown = false;
  const out = text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, a, b) => {
    const v = values.get(a ?? b);
    if (v === undefined) unknown = true;
    return v ?? "";
  });
  return unknown ? undefined : out;
}

export function copySources(i: Instruction): { sources: string[]; dest: string } | undefined {
  const copy = i as unknown as {
    getFromFlag?: () => { getValue(): string | null } | null;
    getJSONStrings?: () => Array<{ getJSONValue(): string }>;
  };
  // Sources from another stage or an image, and inline heredocs, are not in the build context.
  if (copy.getFromFlag?.() || hasHeredoc(i)) return undefined;
  const json = copy.getJSONStrings?.() ?? [];
  const args =
    json.length > 0 ? json.map((s) => s.getJSONValue()) : i.getArguments().map((a) => a.getValue());
  if (args.length < 2) return undefined;
  return { sources: args.slice(0, -1), dest: args[args.length - 1] as string };
}
