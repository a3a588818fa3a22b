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
import { argDeclarations, copySources, expand, hasHeredoc, lineOf, stagesOf } from "./dockerfile-structure";
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

const under = (path: string, root: string) => path === root || path.startsWith(`${root}/`);

type Stages = ReturnType<typeof stagesOf>;
type GlobalArgs = ReturnType<typeof argDeclarations>;

/** Each passed arg is declared where it is used, with BuildKit's scoping (an ARG before FROM reaches only FROM lines). */
function checkPassedArgs(
  { stages }: Stages,
  globalArgs: GlobalArgs,
  expect: DockerfileExpectations,
  problems: Finding[],
): void {
  const passed = Object.keys(expect.buildArgs).filter((name) => !PREDEFINED_ARGS.has(name));
  const firstLine = stages[0] ? lineOf(stages[0].from) : 1;
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
    // The base arg has its own, more precise rule (checkBaseArg).
    if (global && inStages.length === 0 && usedByFrom.length === 0 && name !== expect.baseArg) {
      problems.push({
        line: global.line,
        message: `build arg ${name} is declared only before the first FROM, where only FROM lines can use it, and no FROM does; no build step ever sees it (declare ARG ${name} inside the stage that needs it)`,
      });
    }
  }
}

/** The base arg is global and used by a FROM, or the pushed base digest would not be the base. */
function checkBaseArg(
  { stages }: Stages,
  globalArgs: GlobalArgs,
  baseArg: string,
  problems: Finding[],
  warnings: Finding[],
): void {
  const global = globalArgs.get(baseArg);
  const usedByFrom = stages.some((s) => s.from.getVariables().some((v) => v.getName() === baseArg));
  if (!global || !usedByFrom) {
    problems.push({
      line: global?.line ?? (stages[0] ? lineOf(stages[0].from) : 1),
      message: `no FROM \${${baseArg}} with ARG ${baseArg} declared before it: the base image's pushed digest would not be the base`,
    });
  } else if (global.value !== null) {
    warnings.push({
      line: global.line,
      message: `ARG ${baseArg} has a default (${global.value}); the stack always passes the base's pushed digest, so the default never wins a stack build`,
    });
  }
}

/** One COPY/ADD source against what is staged: present, and a directory or a file as the copy expects. */
function checkCopySource(
  i: Instruction,
  raw: string,
  expanded: string,
  dest: string,
  expect: DockerfileExpectations,
  problems: Finding[],
): void {
  const path = posix
    .normalize(expanded)
    .replace(/^\.\//, "")
    .replace(/\/(\.)?$/, "");
  const root = expect.stagedRoots.find((r) => under(path, r));
  if (!root || /[*?[]/.test(path)) return;
  const kind = expect.kind(path);
  const wantsDir = /\/\.?$/.test(expanded);
  // `COPY dir/config.yaml /x/config.yaml` means a file; `COPY plugins /plugins` may copy either, so
  // only a same-named destination with an extension is read as a file.
  const name = posix.basename(path);
  const wantsFile =
    !wantsDir && !dest.endsWith("/") && name === posix.basename(dest) && /.\.[^.]+$/.test(name);
  const where = `${i.getKeyword()} ${raw}`;
  if (!kind) problems.push({ line: lineOf(i), message: `${where}: ${path} is not staged` });
  else if (wantsDir && kind !== "dir")
    problems.push({ line: lineOf(i), message: `${where}: ${path} is staged as a file, not a directory` });
  else if (wantsFile && kind !== "file")
    problems.push({ line: lineOf(i), message: `${where}: ${path} is staged as a directory, not a file` });
}

/** Every COPY/ADD from the build context: staged sources checked, copies of the manifest collected. */
function checkCopies(
  { stages }: Stages,
  globalArgs: GlobalArgs,
  expect: DockerfileExpectations,
  problems: Finding[],
  manifestCopies: DockerfileFindings["manifestCopies"],
): void {
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
        checkCopySource(i, raw, expanded, copy.dest, expect, problems);
      }
    }
  }
}

export function checkDockerfile(text: string, expect: DockerfileExpectations): DockerfileFindings {
  const parsed = stagesOf(DockerfileParser.parse(text).getInstructions());
  const globalArgs = argDeclarations(parsed.globals);
  const problems: Finding[] = [];
  const warnings: Finding[] = [];
  const manifestCopies: DockerfileFindings["manifestCopies"] = [];
  if (parsed.stages.length === 0) problems.push({ line: 1, message: "no FROM instruction" });
  checkPassedArgs(parsed, globalArgs, expect, problems);
  if (expect.baseArg) checkBaseArg(parsed, globalArgs, expect.baseArg, problems, warnings);
  checkCopies(parsed, globalArgs, expect, problems, manifestCopies);
  return { problems, warnings, manifestCopies };
}
