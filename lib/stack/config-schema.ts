/**
 * The stack's configuration contract: one zod schema, one typed object. Pure: the raw values come in as
 * a plain record (from Pulumi config), so the schema is tested without an engine.
 */
import { posix } from "node:path";
import { z } from "zod";
import { COMMIT_SHA_RE, LIST_DIRS, type ListName } from "../manifest/contract";
import { DEFAULT_GIT_BASE_URL } from "../templates/options";
import { placeholdersIn } from "./build-arg-facts";

/** Where the stager puts templates, relative to the source root (what the Dockerfiles COPY from). */
export const TEMPLATES_DIR = ".tenant-bundle-deps";

const relativePath = (what: string) =>
  z
    .string({ error: `expected a ${what} path (string)` })
    .min(1, `expected a non-empty ${what} path`)
    .refine((p) => !posix.isAbsolute(p) && !posix.normalize(p).startsWith(".."), {
      error: `expected a ${what} path inside the source root (relative, no "..")`,
    });

// ECR's own rule for repository names; OCI registries accept the same set.
const REPOSITORY_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const ARG_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const imageSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "expected lowercase letters, digits and '-'"),
  repository: z.string().regex(REPOSITORY_RE, "expected a repository name like molecule-ai/platform"),
  dockerfile: relativePath("Dockerfile"),
  context: relativePath("context").default("."),
  /** Another image's name: its pushed digest becomes this image's base (BASE_IMAGE). */
  base: z.string().min(1).optional(),
  /** The build arg that receives the base reference. */
  baseArg: z.string().regex(ARG_RE, "expected a build arg name").default("BASE_IMAGE"),
  /** A staged template this image bakes in, passed to the Dockerfile as a build arg. */
  templateDir: z
    .strictObject({
      arg: z.string().regex(ARG_RE, "expected a build arg name"),
      path: relativePath("template"),
    })
    .optional(),
  /**
   * Plain build args (e.g. the root image for an offline engine). Never secrets: they land in the image.
   * Values may name the commit's facts: {commit}, {commitShort}, {commitTime}.
   */
  buildArgs: z
    .record(
      z.string().regex(ARG_RE, "expected a build arg name"),
      z.string().superRefine((value, ctx) => {
        for (const problem of placeholdersIn(value).problems)
          ctx.addIssue({ code: "custom", message: problem });
      }),
    )
    .default({}),
  /** Key under `runtimeImagePins` for the control plane (e.g. "platform-agent"). */
  runtimePin: z.string().min(1).optional(),
});

export type ImageConfig = z.infer<typeof imageSchema>;

const registrySchema = z.discriminatedUnion(
  "type",
  [
    z.strictObject({
      type: z.literal("ecr"),
      accountId: z.coerce.string().regex(/^\d{12}$/, "expected a 12-digit AWS account id"),
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "expected an AWS region like us-east-2"),
      /** Optional KMS key; AES256 (ECR-managed) encryption otherwise. */
      kmsKeyArn: z.string().startsWith("arn:").optional(),
    }),
    z.strictObject({
      type: z.literal("oci"),
      /** host:port of a plain OCI registry, e.g. the local stack's 127.0.0.1:5000. */
      address: z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "expected host[:port]"),
    }),
  ],
  { error: 'expected type "ecr" (accountId, region) or "oci" (address)' },
);

/** ECR retention when the stack sets none; Pulumi.yaml's description quotes these (a test checks it). */
export const LIFECYCLE_DEFAULTS = { untaggedExpireDays: 7, keepTaggedImages: 50 } as const;

const lifecycleSchema = z
  .strictObject({
    untaggedExpireDays: z.coerce.number().int().min(1).default(LIFECYCLE_DEFAULTS.untaggedExpireDays),
    keepTaggedImages: z.coerce.number().int().min(1).default(LIFECYCLE_DEFAULTS.keepTaggedImages),
  })
  .default({ ...LIFECYCLE_DEFAULTS });

const bool = z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean());

export const stackConfigSchema = z.strictObject({
  registry: registrySchema,
  images: z.array(imageSchema).min(1, "expected at least one image"),
  sourceRoot: z.string().min(1),
  /** Canonical URL of the source repository, for the OCI source label. */
  sourceUrl: z.string().url().optional(),
  manifest: z.string().min(1).default("manifest.json"),
  /**
   * The platform's own manifest, relative to the source root. An image that copies it must carry exactly
   * its pins: the preview fails on any entry that differs from what this stack stages.
   */
  platformManifest: relativePath("manifest").default("manifest.json"),
  /** Also write the manifest this stack stages from to <staging dir>/manifest.json, for images to copy. */
  stageManifest: bool.default(false),
  tagPrefix: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_.-]*$/, "expected a tag prefix like staging")
    .default("staging"),
  gitSha: z.string().regex(COMMIT_SHA_RE, "expected a full 40-character lowercase commit SHA").optional(),
  // The stager's own default, so `npm run stage` and the program fetch from the same host unless told.
  gitBaseUrl: z.string().url().default(DEFAULT_GIT_BASE_URL),
  cache: bool.default(true),
  buildOnPreview: bool.default(true),
  platforms: z.array(z.string().regex(/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/)).default([]),
  /** Name of an existing (e.g. remote) BuildKit builder; the provider's default otherwise. */
  builder: z.string().min(1).optional(),
  lifecycle: lifecycleSchema,
  /** Adopt repositories that already exist (Pulumi `import`) instead of creating them. */
  adoptExistingRepositories: bool.default(false),
});

export type StackSettings = z.infer<typeof stackConfigSchema>;

/** Everything the program needs, resolved once: settings plus facts read from the environment. */
export interface StackConfig extends StackSettings {
  gitSha: string;
  /** Commit time of gitSha (seconds): SOURCE_DATE_EPOCH, so a rebuild of one commit is reproducible. */
  sourceDateEpoch?: number;
  /** MOLECULE_GITEA_TOKEN, for the in-program staging run only; never a resource input. */
  gitToken?: string;
  /** MOLECULE_GITHUB_TOKEN, for provider "github" templates, likewise. */
  githubToken?: string;
  /** Absolute paths. */
  sourceRootPath: string;
  templatesPath: string;
}

/** What every image build shares: passed as one object from the config to each image and its spec. */
export type BuildSettings = Pick<
  StackConfig,
  | "sourceRoot"
  | "tagPrefix"
  | "gitSha"
  | "sourceUrl"
  | "sourceDateEpoch"
  | "cache"
  | "buildOnPreview"
  | "platforms"
  | "builder"
>;

/** What every repository's retention follows: its tags' prefix and the lifecycle settings. */
export type Retention = Pick<StackConfig, "tagPrefix"> & StackSettings["lifecycle"];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Validates raw config values (keys without the project prefix); throws one error listing every problem. */
export function parseStackSettings(raw: Record<string, unknown>): StackSettings {
  const result = stackConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
        const key = path.startsWith(".") ? path.slice(1) : path;
        return `molecule-images:${key || "(config)"}: ${issue.message}`;
      }),
    );
  }
  return result.data;
}

/** Which manifest entry a staged template path names, e.g. workspace_templates/platform-agent. */
export function templateEntryOf(path: string): { list: ListName; name: string } | undefined {
  const parts = posix.normalize(path).split("/");
  if (parts.length !== 3 || parts[0] !== TEMPLATES_DIR) return undefined;
  const list = (Object.keys(LIST_DIRS) as ListName[]).find((l) => LIST_DIRS[l] === parts[1]);
  return list && parts[2] ? { list, name: parts[2] } : undefined;
}
