import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { Manifest } from "../lib/manifest";
import type { Progress } from "../lib/staging/progress";
import { type StageResult, stage } from "../lib/staging/stager";

export interface TemplateStagingArgs {
  manifest: Manifest;
  /** Paths relative to the project directory: they are resource inputs, and must not differ by checkout. */
  manifestFile: string;
  dest: string;
  /** Absolute destination, for the in-program run. */
  destPath: string;
  gitBaseUrl: string;
  /** Read token for private templates. Used by the in-program run only; never a resource input. */
  token?: string;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Staging progress as engine diagnostics: warnings and failures only, the rest would be noise. */
const pulumiProgress = (resource: pulumi.Resource): Progress => {
  const noop = () => {};
  return {
    start: noop,
    entryStarted: noop,
    entryDone: noop,
    note: noop,
    stop: noop,
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
 * - A `local.Command` then records what was staged. Its trigger is the staged digest, so a pin bump shows
 *   in the preview as a replacement of this Command, and the images, whose inputs take its output, update.
 *   An unchanged manifest yields the same digest: no replacement, no rebuild.
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
        progress: pulumiProgress(this),
      }),
    );

    // The recorded run is warm (the tree is staged and verified above): it prints the digests, nothing more.
    // It inherits the environment, so a token would reach it without ever being an input.
    const recorder = new command.local.Command(
      `${name}-record`,
      {
        create: [
          "node --import tsx cli/stage.ts",
          `--manifest ${quote(args.manifestFile)}`,
          `--dest ${quote(args.dest)}`,
          `--git-base-url ${quote(args.gitBaseUrl)}`,
          "--quiet",
        ].join(" "),
        triggers: [staged.digest],
        logging: command.local.Logging.Stderr,
      },
      { parent: this },
    );

    const recorded = recorder.stdout.apply((out) => JSON.parse(out) as StageResult);
    this.digest = recorded.digest;
    this.templates = recorded.apply((r) =>
      Object.fromEntries(r.entries.flatMap((e) => (e.digest ? [[`${e.list}/${e.name}`, e.digest]] : []))),
    );
    this.registerOutputs({ digest: this.digest, templates: this.templates });
  }
}
