// molecule-images: the platform's image pipeline. Staged templates feed a chain of images in which every
// child's base is its parent's pushed digest, so order and freshness come from data, not from step order.
import * as pulumi from "@pulumi/pulumi";
import { EcrRegistry } from "./components/ecr-registry";
import { PlatformImage } from "./components/platform-image";
import { type ImageRegistry, ociRegistry } from "./components/registry";
import { Templates } from "./components/templates";
import { preflightBuilder } from "./lib/stack/builder-preflight";
import { checkDockerfiles, DockerfileGateError } from "./lib/stack/dockerfile-gate";
import { failFast } from "./lib/stack/fail-fast";
import { orderImages } from "./lib/stack/image-graph";
import { loadConfig } from "./lib/stack/load-config";
import { phaseMarks } from "./lib/stack/phase-marks";
import { stageTemplates } from "./lib/stack/stage-templates";

// An async program: template staging, the Dockerfile gate and the builder check finish before the first resource is
// declared, so a failed check stops the preview or up before any repository, record or build.
export = failFast(async () => {
  // Phase timings for bench:engine-noop; a no-op unless MOLECULE_PHASE_LOG names a file.
  const marks = phaseMarks();
  // Everything that can be wrong with config, the manifest or the image graph fails here, before any resource.
  const { config, manifest, manifestText } = marks.time("config", loadConfig);
  const ordered = orderImages(config.images, manifest);

  const staged = await marks.time("staging", () => stageTemplates(config, manifest, manifestText));
  const gate = marks.time("gate", () => checkDockerfiles(ordered, config, manifest));
  for (const warning of gate.warnings) pulumi.log.warn(warning);
  if (gate.problems.length > 0) throw new DockerfileGateError(gate.problems);
  const builder = config.builder;
  if (builder) await marks.time("preflight", () => preflightBuilder(builder));

  const registry: ImageRegistry =
    config.registry.type === "ecr"
      ? new EcrRegistry("registry", {
          accountId: config.registry.accountId,
          region: config.registry.region,
          kmsKeyArn: config.registry.kmsKeyArn,
          images: ordered,
          retention: { tagPrefix: config.tagPrefix, ...config.lifecycle },
          adoptExistingRepositories: config.adoptExistingRepositories,
        })
      : ociRegistry(config.registry.address, ordered);

  const templates = new Templates("templates", { staged });

  const built = new Map<string, PlatformImage>();
  for (const image of ordered) {
    built.set(
      image.name,
      new PlatformImage(image.name, {
        image,
        repositoryUrl: registry.repositoryUrls[image.name] as pulumi.Output<string>,
        credentials: registry.credentials,
        base: image.base === undefined ? undefined : built.get(image.base),
        templatesDigest: templates.digest,
        build: config,
      }),
    );
  }

  // The contract the drift check and the control plane read.
  const images = Object.fromEntries(
    [...built].map(([name, image]) => [
      name,
      { repository: image.repository, ref: image.ref, digest: image.digest, tags: image.tags },
    ]),
  );
  const runtimeImagePins = Object.fromEntries(
    ordered.flatMap((image) => {
      const pinned = built.get(image.name);
      return image.runtimePin && pinned ? [[image.runtimePin, pinned.pinnedRef]] : [];
    }),
  );
  marks.flush();
  return {
    images,
    repositories: registry.repositoryUrls,
    templates: { digest: templates.digest, entries: templates.templates },
    runtimeImagePins,
  };
});
