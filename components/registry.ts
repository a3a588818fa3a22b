import * as pulumi from "@pulumi/pulumi";
import type { ImageConfig } from "../lib/stack/config-schema";

/** Where images go: repository URLs by image name, and the credentials to push there (if any). */
export interface ImageRegistry {
  repositoryUrls: Record<string, pulumi.Output<string>>;
  credentials?: {
    address: pulumi.Input<string>;
    username: pulumi.Input<string>;
    password: pulumi.Input<string>;
  };
}

/**
 * A plain OCI registry (the local stack's, on loopback): repositories appear on first push, so there is
 * nothing to declare and no credentials to fetch.
 */
export function ociRegistry(address: string, images: ImageConfig[]): ImageRegistry {
  return {
    repositoryUrls: Object.fromEntries(
      images.map((i) => [i.name, pulumi.output(`${address}/${i.repository}`)]),
    ),
  };
}
