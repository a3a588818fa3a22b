import { describe, expect, it } from "vitest";
import { mermaidGraph } from "./graph";
import type { GraphNode, ImageGraph } from "./graph-model";
import type { PinChange } from "./pins";

const node = (image: string, extra: Partial<GraphNode> = {}): GraphNode => ({
  urn: `urn:${image}`,
  image,
  state: "rebuild",
  reasons: [],
  ...extra,
});

const pin = (name: string): PinChange => ({
  kind: "changed",
  key: `workspace_templates/${name}`,
  list: "workspace_templates",
  name,
  oldRef: "1887cb3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  newRef: "aaf8d11bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
});

describe("mermaidGraph", () => {
  it("is undefined without an image", () => {
    expect(mermaidGraph({ nodes: [], edges: [] }, [pin("x")])).toBeUndefined();
  });

  it("one node per image by position, edges base to child, each marked rebuilding or unchanged", () => {
    const graph: ImageGraph = {
      nodes: [
        node("platform", { repository: "molecule-ai/platform", reasons: ["Dockerfile changed"] }),
        node("platform-agent", { reasons: ["base image changed"] }),
        node("tenant", { state: "unchanged" }),
      ],
      edges: [
        [0, 1],
        [0, 2],
      ],
    };
    const lines = (mermaidGraph(graph) ?? "").split("\n");
    expect(lines[0]).toBe("flowchart TD");
    expect(lines).toContain('  img0["platform<br>molecule-ai/platform<br>rebuilds<br>- Dockerfile changed"]');
    expect(lines).toContain('  img2["tenant<br>unchanged"]');
    expect(lines).toContain("  img0 --> img1");
    expect(lines).toContain("  img0 --> img2");
    expect(lines).toContain("  class img0,img1 rebuild");
    expect(lines).toContain("  class img2 unchanged");
    expect(lines.join("\n")).not.toContain("pinbox");
  });

  it("names the repository, and at most four reasons", () => {
    const reasons = ["a", "b", "c", "d", "e", "f"];
    const out = mermaidGraph({
      nodes: [node("x", { repository: "org/new", reasons })],
      edges: [],
    });
    expect(out).toContain('img0["x<br>org/new<br>rebuilds<br>- a<br>- b<br>- c<br>- d<br>- and 2 more"]');
  });

  it("the changed pins in a box beside the graph, eight at most", () => {
    const pins = Array.from({ length: 10 }, (_, i) => pin(`t${i}`));
    const out = mermaidGraph({ nodes: [node("x")], edges: [] }, pins) ?? "";
    expect(out).toContain('  subgraph pinbox["Template pins changed"]');
    expect(out).toContain('    pinlist["t0 1887cb3 → aaf8d11<br>t1 1887cb3 → aaf8d11');
    expect(out).toContain('t7 1887cb3 → aaf8d11<br>and 2 more"]');
    expect(out).not.toContain("t8 ");
    expect(out).toMatch(/\n {2}end\n {2}class pinlist pins$/);
  });

  it("a hostile name is one label: no quote, bracket, newline, comment or edge of its own", () => {
    const hostile = 'end"]\n%%x\nimg0 --> img0\n```\n<b>`';
    const out = mermaidGraph({ nodes: [node(hostile, { reasons: [hostile] })], edges: [] }) ?? "";
    const lines = out.split("\n");
    expect(lines).toHaveLength(7);
    // The only markup left is the <br> the diagram puts between lines.
    expect(lines[5]?.replaceAll("<br>", "")).toMatch(/^ {2}img0\["[^"\n`<>%[\]]*"\]$/);
    expect(out).not.toContain("-->");
  });
});
