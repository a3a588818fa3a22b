/**
 * Reads the stack's config, the environment and git once, and returns the one typed object the program
 * uses. Nothing else in the program reads raw config or environment variables.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { COMMIT_SHA_RE, type Manifest, ManifestError, parseManifest } from "../manifest/contract";
import { placeholdersIn } from "./build-arg-facts";
import {
  ConfigError,
  parseStackSettings,
  type StackConfig,
  type StackSettings,
  stackConfigSchema,
  TEMPLATES_DIR,
} from "./config-schema";

const PROJECT = "molecule-images";

/** Structured values arrive as JSON text; plain strings stay strings (a 40-hex SHA is not a number). */
function rawValue(text: string): unknown {
  if (/^\s*[[{]/.test(text) || text === "true" || text === "false") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

export interface LoadedConfig {
  config: StackConfig;
  manifest: Manifest;
  /** The manifest file's text as read, for `stageManifest` (the image then carries these exact bytes). */
  manifestText: string;
}

/** The project's keys from Pulumi config, validated; an unknown key is an error beside the schema's own. */
function readSettings(all: Record<string, string>): StackSettings {
  const raw: Record<string, unknown> = {};
  const unknown: string[] = [];
  const known = new Set(Object.keys(stackConfigSchema.shape));
  for (const [fullKey, text] of Object.entries(all)) {
    const [namespace, key = ""] = fullKey.split(":");
    // "" is how Pulumi.yaml declares an optional string with no value (an undeclared default is required).
    if (namespace !== PROJECT || text === "") continue;
    if (known.has(key)) raw[key] = rawValue(text);
    else unknown.push(`${fullKey}: unknown key (expected one of ${[...known].join(", ")})`);
  }
  let settings: StackSettings;
  try {
    settings = parseStackSettings(raw);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError([...unknown, ...err.problems]);
    throw err;
  }
  if (unknown.length > 0) throw new ConfigError(unknown);
  return settings;
}

/**
 * The commit being built and its time. Where the commit comes from, in order: explicit config, the CI's own
 * variable (GitHub and Gitea Actions both set GITHUB_SHA), the source checkout itself.
 */
function readCommit(
  settings: StackSettings,
  env: NodeJS.ProcessEnv,
  sourceRootPath: string,
): { gitSha: string; sourceDateEpoch?: number } {
  const gitSha = settings.gitSha ?? env.GITHUB_SHA ?? git(["rev-parse", "HEAD"], sourceRootPath);
  if (!gitSha || !COMMIT_SHA_RE.test(gitSha)) {
    throw new ConfigError([
      `${PROJECT}:gitSha: cannot determine the commit being built (set ${PROJECT}:gitSha, or GITHUB_SHA, or make ${settings.sourceRoot} a git checkout)`,
    ]);
  }
  const epoch = git(["show", "-s", "--format=%ct", gitSha], sourceRootPath);
  const sourceDateEpoch = epoch && /^\d+$/.test(epoch) ? Number(epoch) : undefined;
  if (sourceDateEpoch === undefined) {
    const needing = settings.images.flatMap((image, i) =>
      Object.entries(image.buildArgs)
        .filter(([, value]) => placeholdersIn(value).names.includes("commitTime"))
        .map(([arg]) => `${PROJECT}:images[${i}].buildArgs.${arg}`),
    );
    if (needing.length > 0)
      throw new ConfigError(
        needing.map(
          (key) =>
            `${key}: uses {commitTime}, but the time of commit ${gitSha} cannot be read from ${settings.sourceRoot} (not a git checkout holding it)`,
        ),
      );
  }
  return { gitSha, sourceDateEpoch };
}

/** The template manifest, read and validated; its problems become config errors naming the file. */
function readManifest(settings: StackSettings, projectDir: string): { manifest: Manifest; text: string } {
  let text: string;
  try {
    text = readFileSync(resolve(projectDir, settings.manifest), "utf8");
  } catch (err) {
    throw new ConfigError([
      `${PROJECT}:manifest: cannot read ${settings.manifest} (${(err as NodeJS.ErrnoException).code})`,
    ]);
  }
  try {
    return { manifest: parseManifest(text, settings.manifest), text };
  } catch (err) {
    if (err instanceof ManifestError) throw new ConfigError(err.message.split("\n"));
    throw err;
  }
}

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  projectDir = process.cwd(),
  all: Record<string, string> = pulumi.runtime.allConfig(),
): LoadedConfig {
  const settings = readSettings(all);
  const sourceRootPath = resolve(projectDir, settings.sourceRoot);
  const commit = readCommit(settings, env, sourceRootPath);
  const { manifest, text } = readManifest(settings, projectDir);

  // "file:<relative path>" (no //) names a directory of git repos relative to this project: the local
  // stack's sample repos, which live in a different absolute place on every machine.
  const relativeFile = /^file:(?!\/\/)(.+)$/.exec(settings.gitBaseUrl)?.[1];
  const gitBaseUrl = relativeFile ? `file://${resolve(projectDir, relativeFile)}` : settings.gitBaseUrl;

  return {
    manifest,
    manifestText: text,
    config: {
      ...settings,
      ...commit,
      gitBaseUrl,
      gitToken: env.MOLECULE_GITEA_TOKEN || undefined,
      githubToken: env.MOLECULE_GITHUB_TOKEN || undefined,
      sourceRootPath,
      templatesPath: resolve(sourceRootPath, TEMPLATES_DIR),
    },
  };
}
