/**
 * The contract between the stack and one Dockerfile, read with a real Dockerfile parser. Pure: the caller
 * says what the stack passes and answers "what is at this context path", so every rule is tested as data.
 *
 * - Every build arg the stack passes is declared where it is used. BuildKit ignores an undeclared build arg
 *   without a word, and an ARG before the first FROM is visible only to FROM lines: a stage that uses it must
 *   declare it again. Either way the value silently never arrives (the platform once reported `dev`).
 * - Every COPY or ADD source under a staged root (the template dir, the staging dir) exists as the file or
 *   directory the instruction needs, so a template that lost a file fails the preview, not the build.
 * - A default on the base arg is a warning: the stack always passes the base's digest, so it cannot win a
 *   stack build, but a build outside the stack would quietly use whatever local image has that name.
 * - Copies of a manifest file are reported, so the caller can compare the pins they claim.
 */
import { posix } from "node:path";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import { PREDEFINED_ARGS } from "./image-spec";

export type PathKind = "file" | "dir" | undefined;

export interface DockerfileExpectations {
  /** Build args the stack passes: name -> value, or undefined where it is not known yet (the base digest). */
  buildArgs: Record<string, string | undefined>;
  /** The arg that carries the base image's reference, when the image has a base. */
  baseArg?: string;
  /** Context-relative directories the stack stages; COPY sources under them must exist. */
  stagedRoots: string[];
  /** Context-relative paths of manifest files whose copies the caller wants to know about. */
  manifestPaths: string[];
  /** What is at a context-relative path. */
  kind(path: string): PathKind;
}

export interface Finding {
  /** 1-based line in the Dockerfile. */
  line: number;
  message: string;
}

export interface DockerfileFindings {
  problems: Finding[];
  warnings: Finding[];
  /** COPY/ADD instructions that copy one of `manifestPaths`. */
  manifestCopies: Array<Finding & { path: string }>;
}

interface Stage {
  from: Instruction;
  name?: string;
  instructions: Instruction[];
}

const lineOf = (i: Instruction) => i.getRange().start.line + 1;

// Instruction declares getHeredocs protected; COPY, ADD and RUN make it public.
const hasHeredoc = (i: Instruction) =>
  ((i as unknown as { getHeredocs?: () => unknown[] }).getHeredocs?.() ?? []).length > 0;

function argDeclarations(instructions: Instruction[]): Map<string, { line: number; value: string | null }> {
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

function stagesOf(instructions: Instruction[]): { globals: Instruction[]; stages: Stage[] } {
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
function expand(text: string, values: Map<string, string | undefined>): string | undefined {
  let unknown = false;
  const out = text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, a, b) => {
    const v = values.get(a ?? b);
    if (v === undefined) unknown = true;
    return v ?? "";
  });
  return unknown ? undefined : out;
}

function copySources(i: Instruction): { sources: string[]; dest: string } | undefined {
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

const under = (path: string, root: string) => path === root || path.startsWith(`${root}/`);

export function checkDockerfile(text: string, expect: DockerfileExpectations): DockerfileFindings {
  const { globals, stages } = stagesOf(DockerfileParser.parse(text).getInstructions());
  const problems: Finding[] = [];
  const warnings: Finding[] = [];
  const manifestCopies: DockerfileFindings["manifestCopies"] = [];
  const globalArgs = argDeclarations(globals);
  const passed = Object.keys(expect.buildArgs).filter((name) => !PREDEFINED_ARGS.has(name));
  const firstLine = stages[0] ? lineOf(stages[0].from) : 1;

  if (stages.length === 0) problems.push({ line: 1, message: "no FROM instruction" });

  for (const name of passed) {
    const usedByFrom = stages.filter((s) => s.from.getVariables().some((v) => v.getName() === name));
    const inStages = stages.filter((s) => argDeclarations(s.instructions).has(name));
    const global = globalArgs.get(name);
    if (!global && inStages.length === 0) {
      problems.push({
        line: firstLine,
        message: `build arg ${name} is passed but no ARG ${name} is declared; BuildKit ignores an undeclared build arg`,
      });
      continue;
    }
    for (const stage of usedByFrom) {
      if (!global)
        problems.push({
          line: lineOf(stage.from),
          message: `FROM uses ${name}, but ARG ${name} is declared only inside a stage; a FROM line sees only ARGs declared before the first FROM`,
        });
    }
    for (const stage of stages) {
      const declared = argDeclarations(stage.instructions).get(name);
      for (const i of stage.instructions) {
        if (i.getKeyword() === "ARG") continue;
        if (hasHeredoc(i)) continue;
        if (!i.getVariables().some((v) => v.getName() === name)) continue;
        if (declared && declared.line < lineOf(i)) continue;
        problems.push({
          line: lineOf(i),
          message: global
            ? `${i.getKeyword()} uses ${name}, but this stage does not declare ARG ${name}; the ARG on line ${global.line} is before the first FROM, where only FROM lines see it, so ${name} is empty here`
            : `${i.getKeyword()} uses ${name} before this stage's ARG ${name}, so ${name} is empty here`,
        });
      }
    }
    // The base arg has its own, more precise rule below.
    if (global && inStages.length === 0 && usedByFrom.length === 0 && name !== expect.baseArg) {
      problems.push({
        line: global.line,
        message: `build arg ${name} is declared only before the first FROM, where only FROM lines can use it, and no FROM does; no build step ever sees it (declare ARG ${name} inside the stage that needs it)`,
      });
    }
  }

  if (expect.baseArg) {
    const global = globalArgs.get(expect.baseArg);
    const usedByFrom = stages.some((s) => s.from.getVariables().some((v) => v.getName() === expect.baseArg));
    if (!global || !usedByFrom) {
      problems.push({
        line: global?.line ?? firstLine,
        message: `no FROM \${${expect.baseArg}} with ARG ${expect.baseArg} declared before it: the base image's pushed digest would not be the base`,
      });
    } else if (global.value !== null) {
      warnings.push({
        line: global.line,
        message: `ARG ${expect.baseArg} has a default (${global.value}); the stack always passes the base's pushed digest, so the default never wins a stack build`,
      });
    }
  }

  for (const stage of stages) {
    // What a COPY source expands to: passed values win over defaults, as in BuildKit.
    const values = new Map<string, string | undefined>();
    for (const [name, d] of argDeclarations(stage.instructions)) {
      const inherited = d.value ?? globalArgs.get(name)?.value ?? undefined;
      values.set(name, name in expect.buildArgs ? expect.buildArgs[name] : inherited);
    }
    for (const i of stage.instructions) {
      const keyword = i.getKeyword();
      if (keyword !== "COPY" && keyword !== "ADD") continue;
      const copy = copySources(i);
      if (!copy) continue;
      for (const raw of copy.sources) {
        const expanded = expand(raw, values);
        if (expanded === undefined || /^[a-z]+:\/\//.test(expanded)) continue;
        const path = posix
          .normalize(expanded)
          .replace(/^\.\//, "")
          .replace(/\/(\.)?$/, "");
        if (expect.manifestPaths.includes(path)) manifestCopies.push({ line: lineOf(i), message: raw, path });
        const root = expect.stagedRoots.find((r) => under(path, r));
        if (!root || /[*?[]/.test(path)) continue;
        const kind = expect.kind(path);
        const wantsDir = /\/\.?$/.test(expanded);
        // `COPY dir/config.yaml /x/config.yaml` means a file; `COPY plugins /plugins` may copy either, so
        // only a same-named destination with an extension is read as a file.
        const name = posix.basename(path);
        const wantsFile =
          !wantsDir &&
          !copy.dest.endsWith("/") &&
          name === posix.basename(copy.dest) &&
          /.\.[^.]+$/.test(name);
        const where = `${keyword} ${raw}`;
        if (!kind) problems.push({ line: lineOf(i), message: `${where}: ${path} is not staged` });
        else if (wantsDir && kind !== "dir")
          problems.push({
            line: lineOf(i),
            message: `${where}: ${path} is staged as a file, not a directory`,
          });
        else if (wantsFile && kind !== "file")
          problems.push({
            line: lineOf(i),
            message: `${where}: ${path} is staged as a directory, not a file`,
          });
      }
    }
  }
  return { problems, warnings, manifestCopies };
}
