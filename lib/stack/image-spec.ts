/**
 * What one image build is, as plain data: tags, build args, labels, cache refs. Pure, so the rules that
 * failures 3 and 5 broke (a base by name, a stray build arg, labels drifting between hand-copied steps)
 * are tested without an engine. Values may be Pulumi outputs; this module only places them.
 */
import { posix } from "node:path";
import { fillPlaceholders } from "./build-arg-facts";
import type { ImageConfig } from "./config-schema";
import { CACHE_TAG } from "./lifecycle-policy";

export const TEMPLATES_LABEL = "app.molecule.templates.digest";
export const REVISION_LABEL = "org.opencontainers.image.revision";

export interface ImageSpecInput<T> {
  image: ImageConfig;
  /** Registry host and repository, e.g. 1532….dkr.ecr.us-east-2.amazonaws.com/molecule-ai/platform. */
  repositoryUrl: T;
  tagPrefix: string;
  gitSha: string;
  sourceUrl?: string;
  sourceDateEpoch?: number;
  /** `<parent repository>@<parent digest>` for images with a base. */
  baseRef?: T;
  /** Digest of the staged templates: the images' data dependency on staging. */
  templatesDigest: T;
  /** The source root, relative to the project directory (keeps inputs identical across checkouts). */
  sourceRoot: string;
}

export interface ImageSpec<T> {
  context: string;
  dockerfile: string;
  tags: Array<[T, string]>;
  cacheRef: [T, string];
  buildArgs: Record<string, string | T>;
  labels: Record<string, string | T>;
  /** The exporter, as BuildKit's `--output` spells it: pushes to the tags. */
  exporter: string;
}

/**
 * Pushes the image to its tags. With the commit's time known, `rewrite-timestamp` (BuildKit >= 0.13) also
 * clamps every file time in the layers to SOURCE_DATE_EPOCH: the staged trees and heredocs are written at
 * build time, so without it two builders of one commit produce layers, and digests, that differ.
 */
export function exporterFor(sourceDateEpoch: number | undefined): string {
  return `type=image,push=true${sourceDateEpoch === undefined ? "" : ",rewrite-timestamp=true"}`;
}

export function tagsFor(tagPrefix: string, gitSha: string): string[] {
  return [`${tagPrefix}-${gitSha.slice(0, 7)}`, `${tagPrefix}-latest`];
}

export function imageSpec<T>(input: ImageSpecInput<T>): ImageSpec<T> {
  const { image } = input;
  const facts = { commit: input.gitSha, commitTime: input.sourceDateEpoch };
  const buildArgs: Record<string, string | T> = Object.fromEntries(
    Object.entries(image.buildArgs).map(([name, value]) => [name, fillPlaceholders(value, facts)]),
  );
  if (image.templateDir) buildArgs[image.templateDir.arg] = image.templateDir.path;
  if (input.baseRef !== undefined) buildArgs[image.baseArg] = input.baseRef;
  // BuildKit reads this arg itself (no ARG needed): image and history times become the commit's, so a
  // rebuild of the same commit reproduces the digest instead of colliding with the immutable tag.
  if (input.sourceDateEpoch !== undefined) buildArgs.SOURCE_DATE_EPOCH = String(input.sourceDateEpoch);

  const labels: Record<string, string | T> = {
    [REVISION_LABEL]: input.gitSha,
    [TEMPLATES_LABEL]: input.templatesDigest,
  };
  if (input.sourceUrl) labels["org.opencontainers.image.source"] = input.sourceUrl;

  return {
    context: posix.join(input.sourceRoot, image.context),
    dockerfile: posix.join(input.sourceRoot, image.dockerfile),
    tags: tagsFor(input.tagPrefix, input.gitSha).map((tag) => [input.repositoryUrl, tag]),
    cacheRef: [input.repositoryUrl, CACHE_TAG],
    buildArgs,
    labels,
    exporter: exporterFor(input.sourceDateEpoch),
  };
}

/** Build args BuildKit defines itself: a Dockerfile need not declare them. */
export const PREDEFINED_ARGS = new Set([
  "SOURCE_DATE_EPOCH",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "FTP_PROXY",
  "NO_PROXY",
  "ALL_PROXY",
  "http_proxy",
  "https_proxy",
  "ftp_proxy",
  "no_proxy",
  "all_proxy",
]);
