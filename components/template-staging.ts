import * as pulumi from "@pulumi/pulumi";
import type { Manifest } from "../lib/manifest";
import { TemplatesRecord } from "../lib/stack/templates-record";
import { type Progress, SILENT_PROGRESS } from "../lib/staging/progress";
import { stage } from "../lib/staging/stager";

export interface TemplateStagingArgs {
  manifest: Manifest;
  /** Absolute destination: `<sourceRoot>/.tenant-bundle-deps`. */
  destPath: string;
  gitBaseUrl: string;
  /** Read token for private templates. Used by the in-program run only; never a resource input. */
  token?: string;
  /** Read token for private provider "github" templates, likewise. */
  githubToken?: string;
}

/** Staging progress as engine diagnostics: warnings and failures only, the rest would be noise. */
const pulumiProgress = (resource: pulumi.Resource): Progress => {
  return {
    ...SILENT_PROGRESS,
    warn: (message) => pulumi.log.warn(`staging: ${message}`, resource),
    entryFailed: (label, message) => pulumi.log.error(`staging ${label}: ${message}`, resource),
  };
};

/**
 * The templates staged into the build context, from the manifest's exact commits.
 *
 * Two steps, because of when things happen on an ephemeral runner:
 * - The stager runs now, during program evaluation, in preview too. docker-build hashes each build
 *   context when it checks the image, before any Command could run; a fresh checkout has nothing staged.
 *   Warm, this costs no network.
 * - A record resource then holds what was staged (`TemplatesRecord`): a pin bump replaces it, and the
 *   images, whose inputs take its output, update. An unchanged manifest yields the same digest: no change.
 */
export class TemplateStaging extends pulumi.ComponentResource {
  readonly digest: pulumi.Output<string>;
  /** `<list>/<name>` -> digest of the staged tree. */
  readonly templates: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: TemplateStagingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("molecule:index:TemplateStaging", name, {}, opts);

    const staged = pulumi.output(
      stage({
        manifest: args.manifest,
        dest: args.destPath,
        gitBaseUrl: args.gitBaseUrl,
        token: args.token,
        githubToken: args.githubToken,
        progress: pulumiProgress(this),
      }),
    );

    const record = new TemplatesRecord(
      `${name}-record`,
      {
        digest: staged.digest,
        entries: staged.entries.apply((entries) =>
          entries.flatMap((e) =>
            e.ref && e.digest ? [{ list: e.list, name: e.name, ref: e.ref, digest: e.digest }] : [],
          ),
        ),
      },
      { parent: this },
    );

    this.digest = record.digest;
    this.templates = record.entries.apply((entries) =>
      Object.fromEntries(entries.map((e) => [`${e.list}/${e.name}`, e.digest])),
    );
    this.registerOutputs({ digest: this.digest, templates: this.templates });
  }
}
