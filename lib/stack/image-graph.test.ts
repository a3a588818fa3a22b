import { describe, expect, it } from "vitest";
import { parseManifest } from "../manifest/contract";
import type { ImageConfig } from "./config-schema";
import { GraphError, orderImages } from "./image-graph";

const image = (name: string, over: Partial<ImageConfig> = {}): ImageConfig => ({
  name,
  repository: `molecule-ai/${name}`,
  dockerfile: `Dockerfile.${name}`,
  context: ".",
  baseArg: "BASE_IMAGE",
  buildArgs: {},
  ...over,
});

const problemsOf = (images: ImageConfig[], manifest?: Parameters<typeof orderImages>[1]) => {
  try {
    orderImages(images, manifest);
  } catch (err) {
    expect(err).toBeInstanceOf(GraphError);
    return (err as GraphError).problems;
  }
  throw new Error("expected the graph to be rejected");
};

const SHA = "a".repeat(40);
const manifest = parseManifest(
  JSON.stringify({
    version: 1,
    plugins: [],
    workspace_templates: [{ name: "platform-agent", repo: "o/platform-agent", ref: SHA }],
    org_templates: [],
  }),
  "manifest.json",
);

describe("orderImages", () => {
  it("puts every parent before its children, whatever the declared order", () => {
    const ordered = orderImages([
      image("tenant", { base: "platform" }),
      image("platform", { base: "base" }),
      image("base"),
      image("other"),
    ]);
    const at = (n: string) => ordered.findIndex((i) => i.name === n);
    expect(ordered).toHaveLength(4);
    expect(at("base")).toBeLessThan(at("platform"));
    expect(at("platform")).toBeLessThan(at("tenant"));
  });

  it("keeps the declared order where the graph leaves it free", () => {
    expect(orderImages([image("b"), image("a")]).map((i) => i.name)).toEqual(["b", "a"]);
  });

  it("names an unknown base and the images it could have meant", () => {
    expect(problemsOf([image("base"), image("platform", { base: "bsae" })])).toEqual([
      'images.platform.base: unknown image "bsae" (known: base, platform)',
    ]);
  });

  it("reports a cycle once, with its path", () => {
    expect(problemsOf([image("a", { base: "b" }), image("b", { base: "a" })])).toEqual([
      "images: base cycle a -> b -> a",
    ]);
  });

  it("rejects a name declared twice and a repository shared by two images", () => {
    const problems = problemsOf([image("a"), image("a"), image("c", { repository: "molecule-ai/a" })]);
    expect(problems).toContain('images: "a" is declared twice');
    expect(problems).toContain('images: "a" and "c" share repository molecule-ai/a');
  });

  it("checks a baked-in template is a staged path and a manifest entry", () => {
    const arg = "TEMPLATE_DIR";
    expect(
      orderImages(
        [
          image("p", {
            templateDir: { arg, path: ".tenant-bundle-deps/workspace-configs-templates/platform-agent" },
          }),
        ],
        manifest,
      ),
    ).toHaveLength(1);
    expect(
      problemsOf([image("p", { templateDir: { arg, path: "templates/platform-agent" } })], manifest)[0],
    ).toMatch(/^images\.p\.templateDir\.path: "templates\/platform-agent" is not a staged template/);
    expect(
      problemsOf(
        [
          image("p", {
            templateDir: { arg, path: ".tenant-bundle-deps/workspace-configs-templates/missing" },
          }),
        ],
        manifest,
      ),
    ).toEqual([
      'images.p.templateDir: the manifest has no workspace_templates entry "missing", so nothing stages .tenant-bundle-deps/workspace-configs-templates/missing',
    ]);
  });
});
