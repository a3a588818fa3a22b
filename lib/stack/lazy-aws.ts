/**
 * @pulumi/aws, loaded on first use. Loading it costs about 0.8 s of every run's startup on these machines,
 * and the local (OCI) stack declares no AWS resource, so only stacks that build an ECR registry pay for it.
 * A plain require: the package is JavaScript, so it loads the same under ts-node, a compiled build and vitest.
 */
import type * as Aws from "@pulumi/aws";

let loaded: typeof Aws | undefined;

export function aws(): typeof Aws {
  loaded ??= require("@pulumi/aws") as typeof Aws;
  return loaded;
}

export type { Aws };
