import * as pulumi from "@pulumi/pulumi";
import { TemplatesRecord } from "../lib/stack/templates-record";
import type { StageResult } from "../lib/templates/stager";

export interface TemplatesArgs {
  /** What the program's template staging put on disk (lib/stack/stage-templates.ts). */
  staged: StageResult;
}

/**
 * The engine's record of the templates staged into the build context, from the manifest's exact commits.
 *
 * The staging itself runs before any resource (see stage-templates.ts). This record then holds what was
 * staged (`TemplatesRecord`): a pin bump replaces it, and the images, whose inputs take its output, update.
 * An unchanged manifest yields the same digest: no change.
 */
export class Templates extends pulumi.ComponentResource {
  readonly digest: pulumi.Output<string>;
  /** `<list>/<name>` -> digest of the staged tree. */
  readonly templates: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: TemplatesArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type was TemplateStaging ("staging" is the environment's name here too): the alias keeps the URNs
    // of stacks made under the old type, this component's and, inherited, its record's.
    super(
      "molecule:index:Templates",
      name,
      {},
      {
        ...opts,
        aliases: [...(opts?.aliases ?? []), { type: "molecule:index:TemplateStaging" }],
      },
    );

    const record = new TemplatesRecord(
      `${name}-record`,
      {
        digest: args.staged.digest,
        entries: args.staged.entries.flatMap((e) =>
          e.ref && e.digest ? [{ list: e.list, name: e.name, ref: e.ref, digest: e.digest }] : [],
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
