/**
 * The Dockerfile gate: every preview and up checks each configured image's Dockerfile, under the source
 * root, against what the stack passes and what it staged, and stops before any build with every problem at
 * once. The platform's Dockerfiles change on their own schedule, so a test on a sample cannot stand in.
 */
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, posix, relative, resolve, sep } from "node:path";
import { type Manifest, ManifestError, parseManifest } from "../manifest/contract";
import { manifestDifferences } from "../manifest/diff";
import type { ImageConfig, StackConfig } from "./config-schema";
import { checkDockerfile, type PathKind } from "./dockerfile-contract";
import { imageSpec } from "./image-spec";

export interface GateFindings {
  problems: string[];
  warnings: string[];
}

/** The name of the file the staged manifest is written to, inside the templates dir. */
export const STAGED_MANIFEST = "manifest.json";

// Values the gate cannot know before the engine runs (the base's digest, the repository URL).
const UNKNOWN = Symbol("unknown");

function kindAt(path: string): PathKind {
  try {
    const st = statSync(path);
    return st.isDirectory() ? "dir" : st.isFile() ? "file" : undefined;
  } catch {
    return undefined;
  }
}

/** `path` relative to `from` in posix form, or undefined when it lies outside `from`. */
function inside(from: string, path: string): string | undefined {
  const rel = relative(from, path);
  if (rel.startsWith("..") || isAbsolute(rel)) return undefined;
  return rel.split(sep).join("/") || ".";
}

function readPlatformManifest(path: string, label: string): Manifest | string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    return `${label} cannot be read (${(err as NodeJS.ErrnoException).code})`;
  }
  try {
    return parseManifest(text, label);
  } catch (err) {
    if (err instanceof ManifestError) return err.message.replace(/\n/g, "; ");
    throw err;
  }
}

export function checkImageDockerfile(
  image: ImageConfig,
  config: StackConfig,
  manifest: Manifest,
): GateFindings {
  const file = posix.join(config.sourceRoot, image.dockerfile);
  const at = (line: number | undefined) => `${image.name}: ${file}${line ? `:${line}` : ""}`;
  let text: string;
  try {
    text = readFileSync(resolve(config.sourceRootPath, image.dockerfile), "utf8");
  } catch (err) {
    return {
      problems: [`${at(undefined)}: cannot read the Dockerfile (${(err as NodeJS.ErrnoException).code})`],
      warnings: [],
    };
  }
  // Exactly the args the image resource gets: the spec is the one place that decides them.
  const spec = imageSpec<string | typeof UNKNOWN>({
    image,
    build: config,
    repositoryUrl: UNKNOWN,
    baseRef: image.base === undefined ? undefined : UNKNOWN,
    templatesDigest: UNKNOWN,
  });
  const buildArgs = Object.fromEntries(
    Object.entries(spec.buildArgs).map(([k, v]) => [k, typeof v === "string" ? v : undefined]),
  );
  const context = resolve(config.sourceRootPath, image.context);
  const platformManifest = resolve(config.sourceRootPath, config.platformManifest);
  const stagedRoots = [inside(context, config.templatesPath), image.templateDir?.path].filter(
    (p): p is string => p !== undefined && p !== ".",
  );
  const stagedManifest = inside(context, resolve(config.templatesPath, STAGED_MANIFEST));
  const findings = checkDockerfile(text, {
    buildArgs,
    baseArg: image.base === undefined ? undefined : image.baseArg,
    stagedRoots,
    manifestPaths: [inside(context, platformManifest), stagedManifest].filter(
      (p): p is string => p !== undefined,
    ),
    kind: (path) => kindAt(resolve(context, path)),
  });
  const problems = findings.problems.map((f) => `${at(f.line)}: ${f.message}`);
  for (const copy of findings.manifestCopies) {
    if (copy.path === stagedManifest) {
      // Written this run only with stageManifest; a copy left by an earlier run would carry its old pins.
      if (!config.stageManifest)
        problems.push(
          `${at(copy.line)}: COPY ${copy.message}: the staged manifest is written only with molecule-images:stageManifest: true`,
        );
      continue;
    }
    const label = posix.join(config.sourceRoot, config.platformManifest);
    const claimed = readPlatformManifest(platformManifest, label);
    const where = `${at(copy.line)}: COPY ${copy.message}`;
    if (typeof claimed === "string") problems.push(`${where}: ${claimed}`);
    else
      for (const diff of manifestDifferences(claimed, manifest, { claimed: label, staged: config.manifest }))
        problems.push(`${where}: the image would claim pins it does not carry: ${diff}`);
  }
  return { problems, warnings: findings.warnings.map((f) => `${at(f.line)}: ${f.message}`) };
}

/** Every image's findings, in the chain's order. */
export function checkDockerfiles(
  images: ImageConfig[],
  config: StackConfig,
  manifest: Manifest,
): GateFindings {
  const all = images.map((image) => checkImageDockerfile(image, config, manifest));
  return { problems: all.flatMap((f) => f.problems), warnings: all.flatMap((f) => f.warnings) };
}

export class DockerfileGateError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `the Dockerfiles do not match the stack (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was built:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "DockerfileGateError";
  }
}
