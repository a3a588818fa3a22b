import { describe, expect, it } from "vitest";
import type { ImageConfig } from "./config-schema";
import { exporterFor, imageSpec, REVISION_LABEL, TEMPLATES_LABEL } from "./image-spec";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const image = (over: Partial<ImageConfig> = {}): ImageConfig => ({
  name: "platform",
  repository: "molecule-ai/platform",
  dockerfile: "Dockerfile.platform",
  context: ".",
  baseArg: "BASE_IMAGE",
  buildArgs: {},
  ...over,
});
const build = { sourceRoot: "src", tagPrefix: "staging", gitSha: SHA, sourceDateEpoch: 1_700_000_000 };
const spec = (over: Partial<Parameters<typeof imageSpec<string>>[0]> = {}) =>
  imageSpec<string>({
    image: image(),
    build,
    repositoryUrl: "reg/molecule-ai/platform",
    templatesDigest: "sha256:t",
    ...over,
  });

describe("imageSpec", () => {
  it("tags the commit and the moving tag, and caches beside them", () => {
    const s = spec();
    expect(s.tags).toEqual([
      ["reg/molecule-ai/platform", "staging-0123456"],
      ["reg/molecule-ai/platform", "staging-latest"],
    ]);
    expect(s.cacheRef).toEqual(["reg/molecule-ai/platform", "buildcache"]);
  });

  it("passes the base by digest in the image's base arg, only when it has one", () => {
    expect(spec({ baseRef: "reg/base@sha256:b" }).buildArgs.BASE_IMAGE).toBe("reg/base@sha256:b");
    expect(spec().buildArgs).not.toHaveProperty("BASE_IMAGE");
    const custom = spec({ image: image({ baseArg: "PARENT" }), baseRef: "reg/base@sha256:b" });
    expect(custom.buildArgs).toMatchObject({ PARENT: "reg/base@sha256:b" });
    expect(custom.buildArgs).not.toHaveProperty("BASE_IMAGE");
  });

  it("fills the commit's facts into build args and passes the template dir", () => {
    const s = spec({
      image: image({
        buildArgs: { GIT_SHA: "{commit}", SHORT: "v-{commitShort}", AT: "{commitTime}", LIT: "{{x}}" },
        templateDir: { arg: "TEMPLATE_DIR", path: ".tenant-bundle-deps/workspace-configs-templates/p" },
      }),
    });
    expect(s.buildArgs).toMatchObject({
      GIT_SHA: SHA,
      SHORT: "v-0123456",
      AT: "1700000000",
      LIT: "{x}",
      TEMPLATE_DIR: ".tenant-bundle-deps/workspace-configs-templates/p",
      SOURCE_DATE_EPOCH: "1700000000",
    });
  });

  it("labels the revision and the templates digest, and the source only when known", () => {
    expect(spec().labels).toEqual({ [REVISION_LABEL]: SHA, [TEMPLATES_LABEL]: "sha256:t" });
    expect(spec({ build: { ...build, sourceUrl: "https://git.example/p" } }).labels).toMatchObject({
      "org.opencontainers.image.source": "https://git.example/p",
    });
  });

  it("places the context and Dockerfile under the source root, as posix paths", () => {
    const s = spec({ image: image({ context: "images/platform" }) });
    expect(s.context).toBe("src/images/platform");
    expect(s.dockerfile).toBe("src/Dockerfile.platform");
  });

  it("clamps layer times only when the commit's time is known", () => {
    expect(spec().exporter).toBe("type=image,push=true,rewrite-timestamp=true");
    expect(exporterFor(undefined)).toBe("type=image,push=true");
    expect(spec({ build: { ...build, sourceDateEpoch: undefined } }).buildArgs).not.toHaveProperty(
      "SOURCE_DATE_EPOCH",
    );
  });
});
