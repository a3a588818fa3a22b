// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text, not JS templates
import { describe, expect, it } from "vitest";
import { checkDockerfile, type DockerfileExpectations, type PathKind } from "./dockerfile-contract";

const STAGED: Record<string, PathKind> = {
  ".tenant-bundle-deps": "dir",
  ".tenant-bundle-deps/plugins": "dir",
  ".tenant-bundle-deps/manifest.json": "file",
  "t/agent": "dir",
  "t/agent/config.yaml": "file",
  "t/agent/prompts": "dir",
};

const expectations = (over: Partial<DockerfileExpectations> = {}): DockerfileExpectations => ({
  buildArgs: {},
  stagedRoots: [".tenant-bundle-deps", "t/agent"],
  manifestPaths: ["manifest.json"],
  kind: (p) => STAGED[p],
  ...over,
});

const problems = (text: string, over?: Partial<DockerfileExpectations>) =>
  checkDockerfile(text, expectations(over)).problems;

describe("build args: declared where they are used, with BuildKit's scoping", () => {
  it("an arg nobody declares is a problem on the first FROM's line; BuildKit's own args need no ARG", () => {
    expect(
      problems("# c\nFROM scratch\n", { buildArgs: { GIT_SHA: "abc", SOURCE_DATE_EPOCH: "1" } }),
    ).toEqual([
      {
        line: 2,
        message:
          "build arg GIT_SHA is passed but no ARG GIT_SHA is declared; BuildKit ignores an undeclared build arg",
      },
    ]);
  });

  it("an ARG before FROM does not reach a stage's RUN: named at the RUN's line", () => {
    const text = "ARG GIT_SHA=dev\nFROM scratch AS build\nRUN echo ${GIT_SHA}\n";
    expect(problems(text, { buildArgs: { GIT_SHA: "abc" } })).toEqual([
      {
        line: 3,
        message:
          "RUN uses GIT_SHA, but this stage does not declare ARG GIT_SHA; the ARG on line 1 is before the first FROM, where only FROM lines see it, so GIT_SHA is empty here",
      },
      {
        line: 1,
        message:
          "build arg GIT_SHA is declared only before the first FROM, where only FROM lines can use it, and no FROM does; no build step ever sees it (declare ARG GIT_SHA inside the stage that needs it)",
      },
    ]);
  });

  it("declared again inside the stage, the global ARG's default is inherited and nothing is wrong", () => {
    const text = "ARG GIT_SHA=dev\nFROM scratch AS build\nARG GIT_SHA\nRUN echo ${GIT_SHA}\n";
    expect(problems(text, { buildArgs: { GIT_SHA: "abc" } })).toEqual([]);
  });

  it("an ARG declared after its use in the stage is too late", () => {
    const text = "FROM scratch\nRUN echo $V\nARG V\n";
    expect(problems(text, { buildArgs: { V: "1" } })).toEqual([
      { line: 2, message: "RUN uses V before this stage's ARG V, so V is empty here" },
    ]);
  });

  it("a FROM that uses an arg declared only inside a stage", () => {
    const text = "FROM scratch AS a\nARG IMG\nFROM ${IMG}\n";
    expect(problems(text, { buildArgs: { IMG: "x" } })).toEqual([
      {
        line: 3,
        message:
          "FROM uses IMG, but ARG IMG is declared only inside a stage; a FROM line sees only ARGs declared before the first FROM",
      },
    ]);
  });

  it("an ARG line may declare several names", () => {
    expect(problems("FROM scratch\nARG A B=2\n", { buildArgs: { A: "1", B: "3" } })).toEqual([]);
  });
});

describe("the base arg", () => {
  it("a default is a warning that says why it cannot win a stack build", () => {
    const found = checkDockerfile("ARG BASE_IMAGE=local/p:latest\nFROM ${BASE_IMAGE}\n", {
      ...expectations(),
      buildArgs: { BASE_IMAGE: undefined },
      baseArg: "BASE_IMAGE",
    });
    expect(found.problems).toEqual([]);
    expect(found.warnings).toEqual([
      {
        line: 1,
        message:
          "ARG BASE_IMAGE has a default (local/p:latest); the stack always passes the base's pushed digest, so the default never wins a stack build",
      },
    ]);
  });

  it("a Dockerfile whose FROM ignores the base arg is a problem: the digest would not be the base", () => {
    expect(
      problems("ARG BASE_IMAGE\nFROM debian\n", {
        buildArgs: { BASE_IMAGE: undefined },
        baseArg: "BASE_IMAGE",
      }),
    ).toEqual([
      {
        line: 1,
        message:
          "no FROM ${BASE_IMAGE} with ARG BASE_IMAGE declared before it: the base image's pushed digest would not be the base",
      },
    ]);
  });
});

describe("COPY and ADD sources under a staged root", () => {
  const T = { T: "t/agent" };
  const copy = (line: string) => problems(`FROM scratch\nARG T\n${line}\n`, { buildArgs: T });

  it("a file the template lacks, through the arg, names the line and the path", () => {
    expect(copy("COPY ${T}/missing.yaml /x/missing.yaml")).toEqual([
      { line: 3, message: "COPY ${T}/missing.yaml: t/agent/missing.yaml is not staged" },
    ]);
  });

  it("a directory where a file is needed, and a file where a directory is needed", () => {
    expect(copy("COPY ${T}/prompts.yaml /x/prompts.yaml")[0]?.message).toMatch(/is not staged/);
    expect(copy("COPY $T/config.yaml/ /x/")).toEqual([
      { line: 3, message: "COPY $T/config.yaml/: t/agent/config.yaml is staged as a file, not a directory" },
    ]);
    expect(
      problems("FROM scratch\nCOPY t/agent/prompts /x/prompts.yaml\n", {
        kind: (p) => (p === "t/agent/prompts.yaml" ? "dir" : STAGED[p]),
      }),
    ).toEqual([]);
    expect(
      problems("FROM scratch\nCOPY t/agent/p.yaml /x/p.yaml\n", {
        kind: (p) => (p === "t/agent/p.yaml" ? "dir" : STAGED[p]),
      }),
    ).toEqual([
      { line: 2, message: "COPY t/agent/p.yaml: t/agent/p.yaml is staged as a directory, not a file" },
    ]);
  });

  it("present sources, a directory copied by name, JSON form and ADD pass", () => {
    expect(copy("COPY ${T}/config.yaml ${T}/prompts/ /x/")).toEqual([]);
    expect(copy("COPY .tenant-bundle-deps/plugins /plugins")).toEqual([]);
    expect(copy('COPY ["${T}/config.yaml", "/x/config.yaml"]')).toEqual([]);
    expect(copy("ADD --chmod=0644 ${T}/gone /x/")).toEqual([
      { line: 3, message: "ADD ${T}/gone: t/agent/gone is not staged" },
    ]);
  });

  it("heredocs, other stages, URLs and paths outside the staged roots are not checked", () => {
    expect(copy("COPY <<'EOF' /x\n$T/none\nEOF")).toEqual([]);
    expect(copy("COPY --from=build ${T}/none /x/")).toEqual([]);
    expect(copy("ADD https://example.com/a /x/")).toEqual([]);
    expect(copy("COPY src/none /x/")).toEqual([]);
  });

  it("reports every copy of a manifest file, for the caller to compare its pins", () => {
    const found = checkDockerfile("FROM scratch\nCOPY ./manifest.json /app/manifest.json\n", expectations());
    expect(found.manifestCopies).toEqual([{ line: 2, message: "./manifest.json", path: "manifest.json" }]);
  });
});
