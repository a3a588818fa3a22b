import * as pulumi from "@pulumi/pulumi";
import type { Retention } from "../lib/stack/config-schema";
import { aws } from "../lib/stack/lazy-aws";
import { lifecyclePolicy, mutableTagFilters } from "../lib/stack/lifecycle-policy";

export interface ImageRepositoryArgs {
  /** The repository's name in ECR, e.g. molecule-ai/platform. */
  repositoryName: string;
  retention: Retention;
  kmsKeyArn?: string;
  /** Adopt an existing repository of this name (Pulumi `import`) instead of creating one. */
  adopt: boolean;
}

/** One ECR repository with the pipeline's guarantees: immutable per-commit tags, scanning, retention. */
export class ImageRepository extends pulumi.ComponentResource {
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: ImageRepositoryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("molecule:index:ImageRepository", name, {}, opts);

    const repository = new (aws().ecr.Repository)(
      `${name}-repository`,
      {
        name: args.repositoryName,
        // <prefix>-<sha> can never be overwritten; only the moving tags may move.
        imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters: mutableTagFilters(args.retention.tagPrefix),
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfigurations: [
          args.kmsKeyArn ? { encryptionType: "KMS", kmsKey: args.kmsKeyArn } : { encryptionType: "AES256" },
        ],
        // Images outlive the stack: destroy must never take them with it.
        forceDelete: false,
      },
      {
        parent: this,
        retainOnDelete: true,
        import: args.adopt ? args.repositoryName : undefined,
        // ECR cannot change a repository's encryption in place: a difference would mean replacing an
        // adopted repository, images and all. Adopted repositories keep the encryption they have.
        ignoreChanges: args.adopt ? ["encryptionConfigurations"] : undefined,
      },
    );

    new (aws().ecr.LifecyclePolicy)(
      `${name}-lifecycle`,
      { repository: repository.name, policy: JSON.stringify(lifecyclePolicy(args.retention)) },
      { parent: this },
    );

    this.url = repository.repositoryUrl;
    this.registerOutputs({ url: this.url });
  }
}
