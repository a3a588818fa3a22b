/**
 * What one image build is, as plain data: tags, build args, labels, cache refs. Pure, so the rules a shell
 * pipeline once broke (a base named by tag instead of digest, a stray build arg, labels drifting between
 * hand-copied steps) are tested without an engine. Values may be Pulumi outputs; this module only places them.
 */
import { posix } from "node:path";
import { fillPlaceholders } from "./build-arg-facts";
import type { BuildSettings, ImageConfig } from "./config-schema";
import { CACHE_TAG, tagsFor } from "./tags";

export const TEMPLATES_LABEL = "app.molecule.templates.digest";
export const REVISION_LABEL = "org.opencontainers.image.revision";

export interface ImageSpecInput<T> {
  image: ImageConfig;
  /** The stack's build settings; its source root is relative to the project (identical inputs across checkouts). */
  build: Pick<BuildSettings, "sourceRoot" | "tagPrefix" | "gitSha" | "sourceUrl" | "sourceDateEpoch">;
  /** Registry host and repository, e.g. 1532….dkr.ecr.us-east-2.amazonaws.com/molecule-ai/platform. */
  repositoryUrl: T;
  /** `<parent repository>@<parent digest>` for images with a base. */
  baseRef?: T;
  /** Digest of the staged templates: the images' data dependency on the templates. */
  templatesDigest: T;
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

export function imageSpec<T>(input: ImageSpecInput<T>): ImageSpec<T> {
  const { image, build } = input;
  const facts = { commit: build.gitSha, commitTime: build.sourceDateEpoch };
  const buildArgs: Record<string, string | T> = Object.fromEntries(
    Object.entries(image.buildArgs).map(([name, value]) => [name, fillPlaceholders(value, facts)]),
  );
  if (image.templateDir) buildArgs[image.templateDir.arg] = image.templateDir.path;
  if (input.baseRef !== undefined) buildArgs[image.baseArg] = input.baseRef;
  // BuildKit reads this arg itself (no ARG needed): image and history times become the commit's, so a
  // rebuild of the same commit reproduces the digest instead of colliding with the immutable tag.
  if (build.sourceDateEpoch !== undefined) buildArgs.SOURCE_DATE_EPOCH = String(build.sourceDateEpoch);

  const labels: Record<string, string | T> = {
    [REVISION_LABEL]: build.gitSha,
    [TEMPLATES_LABEL]: input.templatesDigest,
  };
  if (build.sourceUrl) labels["org.opencontainers.image.source"] = build.sourceUrl;

  return {
    context: posix.join(build.sourceRoot, image.context),
    dockerfile: posix.join(build.sourceRoot, image.dockerfile),
    tags: tagsFor(build.tagPrefix, build.gitSha).map((tag) => [input.repositoryUrl, tag]),
    cacheRef: [input.repositoryUrl, CACHE_TAG],
    buildArgs,
    labels,
    exporter: exporterFor(build.sourceDateEpoch),
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
