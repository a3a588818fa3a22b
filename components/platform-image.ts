import * as dockerbuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import type { BuildSettings, ImageConfig } from "../lib/stack/config-schema";
import { imageSpec } from "../lib/stack/image-spec";
import type { ImageRegistry } from "./registry";

export interface PlatformImageArgs {
  image: ImageConfig;
  repositoryUrl: pulumi.Output<string>;
  credentials?: ImageRegistry["credentials"];
  /** The image this one builds on: its pushed digest, not a tag, becomes the base. */
  base?: PlatformImage;
  templatesDigest: pulumi.Output<string>;
  /** The stack's build settings, shared by every image. */
  build: BuildSettings;
}

/** One image of the chain, built with BuildKit and pushed under the per-commit and moving tags. */
export class PlatformImage extends pulumi.ComponentResource {
  readonly repository: pulumi.Output<string>;
  readonly digest: pulumi.Output<string>;
  readonly ref: pulumi.Output<string>;
  readonly tags: pulumi.Output<string[]>;
  /** `<repository>@<digest>`: what children build on and what the control plane pins. */
  readonly pinnedRef: pulumi.Output<string>;

  constructor(name: string, args: PlatformImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("molecule:index:PlatformImage", name, {}, opts);

    const { build } = args;
    const spec = imageSpec({
      image: args.image,
      build,
      repositoryUrl: args.repositoryUrl,
      baseRef: args.base?.pinnedRef,
      templatesDigest: args.templatesDigest,
    });
    const tags = spec.tags.map(([repository, tag]) => pulumi.interpolate`${repository}:${tag}`);
    const cacheRef = pulumi.interpolate`${spec.cacheRef[0]}:${spec.cacheRef[1]}`;

    const image = new dockerbuild.Image(
      `${name}-image`,
      {
        context: { location: spec.context },
        dockerfile: { location: spec.dockerfile },
        buildArgs: spec.buildArgs,
        labels: spec.labels,
        tags,
        // docker-build 0.0.22's typed exports have no rewrite-timestamp, so the push is its raw exporter;
        // the provider still reads the pushed digest from it (a raw export with push=true counts as pushed).
        exports: [{ raw: spec.exporter }],
        push: false,
        registries: args.credentials ? [args.credentials] : undefined,
        cacheFrom: build.cache ? [{ registry: { ref: cacheRef } }] : undefined,
        cacheTo: build.cache
          ? [
              {
                registry: {
                  ref: cacheRef,
                  imageManifest: true,
                  ociMediaTypes: true,
                  mode: dockerbuild.CacheMode.Max,
                },
              },
            ]
          : undefined,
        platforms: build.platforms.length > 0 ? (build.platforms as dockerbuild.Platform[]) : undefined,
        builder: build.builder ? { name: build.builder } : undefined,
        buildOnPreview: build.buildOnPreview,
      },
      { parent: this },
    );

    this.repository = args.repositoryUrl;
    this.digest = image.digest;
    this.ref = image.ref;
    this.tags = pulumi.all(tags);
    this.pinnedRef = pulumi.interpolate`${args.repositoryUrl}@${image.digest}`;
    this.registerOutputs({ digest: this.digest, ref: this.ref, tags: this.tags, pinnedRef: this.pinnedRef });
  }
}
