/**
 * The contract between the stack and a Dockerfile, checked with a real Dockerfile parser: every build arg
 * the stack passes is declared (a build arg nobody declares is silently ignored, as GIT_SHA once was), every
 * COPY source under the template dir exists in the staged template, and a default on the base arg is named:
 * the stack always passes the base's digest, so the default cannot win a stack build, but a build outside the
 * stack would silently use whatever local image has that name.
 */
import { DockerfileParser } from "dockerfile-ast";
import { PREDEFINED_ARGS } from "./image-spec";

export interface DockerfileExpectations {
  file: string;
  buildArgs: string[];
  baseArg?: string;
  template?: { arg: string; files: Set<string> };
}

export interface DockerfileFindings {
  problems: string[];
  warnings: string[];
}

export function checkDockerfile(text: string, expect: DockerfileExpectations): DockerfileFindings {
  const dockerfile = DockerfileParser.parse(text);
  const problems: string[] = [];
  const warnings: string[] = [];
  const declared = new Map<string, string | null>();
  for (const arg of dockerfile.getARGs()) {
    const property = arg.getProperty();
    if (property) declared.set(property.getName(), property.getValue());
  }
  for (const name of expect.buildArgs) {
    if (!PREDEFINED_ARGS.has(name) && !declared.has(name)) {
      problems.push(`${expect.file}: build arg ${name} is passed but the Dockerfile declares no ARG ${name}`);
    }
  }
  if (expect.baseArg) {
    if (!declared.has(expect.baseArg))
      problems.push(`${expect.file}: no ARG ${expect.baseArg} for the base image`);
    else if (declared.get(expect.baseArg) !== null) {
      warnings.push(
        `${expect.file}: ARG ${expect.baseArg} has a default (${declared.get(expect.baseArg)}); the stack always passes the base's pushed digest, so the default never wins a stack build`,
      );
    }
  }
  if (expect.template) {
    const prefix = new RegExp(`^\\$\\{?${expect.template.arg}\\}?/?`);
    for (const copy of dockerfile.getCOPYs()) {
      const args = copy.getArguments().map((a) => a.getValue());
      for (const source of args.slice(0, -1)) {
        if (!prefix.test(source)) continue;
        const relative = source.replace(prefix, "").replace(/\/$/, "");
        const present =
          relative === "" ||
          expect.template.files.has(relative) ||
          [...expect.template.files].some((f) => f.startsWith(`${relative}/`));
        if (!present)
          problems.push(`${expect.file}: COPY ${source}: ${relative} is not in the staged template`);
      }
    }
  }
  return { problems, warnings };
}
