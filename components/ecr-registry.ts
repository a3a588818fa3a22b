import * as pulumi from "@pulumi/pulumi";
import type { ImageConfig, Retention } from "../lib/stack/config-schema";
import { type Aws, aws } from "../lib/stack/lazy-aws";
import { ImageRepository } from "./image-repository";
import type { ImageRegistry } from "./registry";

export interface EcrRegistryArgs {
  accountId: string;
  region: string;
  kmsKeyArn?: string;
  images: ImageConfig[];
  retention: Retention;
  adoptExistingRepositories: boolean;
}

/** The staging ECR registry: one repository per image, and short-lived push credentials. */
export class EcrRegistry extends pulumi.ComponentResource implements ImageRegistry {
  readonly repositoryUrls: Record<string, pulumi.Output<string>> = {};
  readonly credentials: ImageRegistry["credentials"];

  constructor(name: string, args: EcrRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("molecule:index:EcrRegistry", name, {}, opts);

    // allowedAccountIds: credentials for any other account fail instead of creating repositories there.
    const provider = new (aws().Provider)(
      `${name}-aws`,
      { region: args.region as Aws.Region, allowedAccountIds: [args.accountId] },
      { parent: this },
    );
    for (const image of args.images) {
      const repository = new ImageRepository(
        `${name}-${image.name}`,
        {
          repositoryName: image.repository,
          retention: args.retention,
          kmsKeyArn: args.kmsKeyArn,
          adopt: args.adoptExistingRepositories,
        },
        { parent: this, providers: [provider] },
      );
      this.repositoryUrls[image.name] = repository.url;
    }

    // Fetched on every run (tokens last 12 hours), and secret so it is encrypted in state and masked in logs.
    const token = aws().ecr.getAuthorizationTokenOutput(
      { registryId: args.accountId },
      { parent: this, provider },
    );
    this.credentials = {
      address: token.proxyEndpoint.apply((endpoint) => endpoint.replace(/^https?:\/\//, "")),
      username: token.userName,
      password: pulumi.secret(token.password),
    };
    this.registerOutputs({ repositoryUrls: this.repositoryUrls });
  }
}
