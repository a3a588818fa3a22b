import { describe, expect, it } from "vitest";
import { imageGraph } from "./graph-model";
import type { ImageRebuild } from "./images";
import type { PreviewStep } from "./preview";

const URN = "urn:pulumi:e2e::molecule-images::molecule:index:PlatformImage$docker-build:index:Image::";
const PARENT = "urn:pulumi:e2e::molecule-images::molecule:index:PlatformImage::";
const DIGEST = `sha256:${"a".repeat(64)}`;

function image(name: string, op: string, extra: Record<string, unknown> = {}): PreviewStep {
  const state = {
    type: "docker-build:index:Image",
    parent: `${PARENT}${name}`,
    inputs: { tags: [`127.0.0.1:5000/molecule-ai/${name}:local-6b6b6b6`] },
    ...extra,
  };
  return { op, urn: `${URN}${name}-image`, oldState: state, newState: state };
}

const rebuild = (image: string, reasons: string[]): ImageRebuild => ({
  image,
  resource: `${image}-image`,
  op: "update",
  reasons,
});

describe("imageGraph", () => {
  it("an edge from the image the build args depend on, whatever the step order", () => {
    const child = image("agent", "update", {
      propertyDependencies: { buildArgs: [`${URN}platform-image`], labels: ["urn:pulumi:x::y::z::rec"] },
    });
    const graph = imageGraph(
      [child, image("platform", "update")],
      [rebuild("agent", ["base image changed"]), rebuild("platform", ["Dockerfile changed"])],
    );
    expect(graph.nodes.map((n) => [n.image, n.state])).toEqual([
      ["agent", "rebuild"],
      ["platform", "rebuild"],
    ]);
    expect(graph.edges).toEqual([[1, 0]]);
  });

  it("a base with no step of its own is there, unchanged", () => {
    const child = image("agent", "update", { propertyDependencies: { buildArgs: [`${URN}platform-image`] } });
    const graph = imageGraph([child], [rebuild("agent", ["Dockerfile changed"])]);
    expect(graph.nodes[1]).toEqual({
      urn: `${URN}platform-image`,
      image: "platform",
      state: "unchanged",
      reasons: [],
    });
    expect(graph.edges).toEqual([[1, 0]]);
  });

  it("without recorded dependencies, a build arg holding another image's old digest is the edge", () => {
    const base = image("platform", "same", { outputs: { digest: DIGEST } });
    const child = image("agent", "update", {
      inputs: { buildArgs: { BASE: `r/molecule-ai/platform@${DIGEST}` }, tags: ["r/molecule-ai/agent:t"] },
    });
    const graph = imageGraph([base, child], [rebuild("agent", ["base image changed"])]);
    expect(graph.nodes.map((n) => n.state)).toEqual(["unchanged", "rebuild"]);
    expect(graph.edges).toEqual([[0, 1]]);
  });

  it("a node names the new repository; a deleted image says so", () => {
    const moved = image("agent", "update");
    moved.newState = { ...moved.oldState, inputs: { tags: ["127.0.0.1:5000/molecule-ai/renamed:t"] } };
    const gone = { ...image("old", "delete"), newState: undefined };
    const graph = imageGraph([moved, gone], [rebuild("agent", ["tags changed (new commit)"])]);
    expect(graph.nodes[0]).toMatchObject({ repository: "molecule-ai/renamed" });
    expect(graph.nodes[1]).toMatchObject({ state: "delete", reasons: ["removed from the stack"] });
  });

  it("a replacement's physical steps are one node, and other types none", () => {
    const record = {
      op: "replace",
      urn: "urn:pulumi:e2e::p::pulumi-nodejs:dynamic:Resource::templates-record",
    };
    const graph = imageGraph(
      [
        image("platform", "create-replacement"),
        image("platform", "replace"),
        image("platform", "delete-replaced"),
        record,
      ],
      [{ ...rebuild("platform", ["Dockerfile changed"]), op: "replace" }],
    );
    expect(graph.nodes).toHaveLength(1);
    expect(graph.nodes[0]?.state).toBe("rebuild");
  });
});
