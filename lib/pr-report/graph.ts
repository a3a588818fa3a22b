/**
 * The image graph as a Mermaid `flowchart`, which GitHub and Gitea draw in a comment: one node per image
 * (rebuilding with its reasons, or unchanged), an edge from base to child, and the template pins that moved
 * in a box beside them. Pure. Node ids are `img<N>` by position, never names: a name could be a Mermaid
 * keyword (`end`), an id already used, or syntax.
 */
import type { GraphNode, ImageGraph } from "./graph-model";
import { mermaidLabel } from "./mermaid-label";
import { describePinChange, type PinChange } from "./pins";

// The box beside the graph names this many pins before "and N more": the pin table has them all.
const PINS_SHOWN = 8;
// A node names this many reasons; images.ts puts the most telling first.
const REASONS_SHOWN = 4;

const STYLES = [
  "classDef rebuild fill:#fff4ce,stroke:#b7791f,color:#1f2328",
  "classDef unchanged fill:#f6f8fa,stroke:#8c959f,color:#57606a",
  "classDef delete fill:#ffebe9,stroke:#cf222e,color:#1f2328",
  "classDef pins fill:#ddf4ff,stroke:#0969da,color:#1f2328",
];

const STATUS: Record<GraphNode["state"], string> = {
  rebuild: "rebuilds",
  unchanged: "unchanged",
  delete: "removed",
};

function nodeLines(node: GraphNode): string[] {
  const lines = [node.image];
  if (node.repository) lines.push(node.repository);
  lines.push(STATUS[node.state]);
  const reasons = node.reasons.slice(0, REASONS_SHOWN);
  const more = node.reasons.length - reasons.length;
  lines.push(...reasons.map((r) => `- ${r}`));
  if (more > 0) lines.push(`- and ${more} more`);
  return lines;
}

function pinLines(pins: readonly PinChange[]): string[] {
  const shown = pins.slice(0, PINS_SHOWN).map(describePinChange);
  const more = pins.length - shown.length;
  return more > 0 ? [...shown, `and ${more} more`] : shown;
}

/** The diagram's source (no fence), or undefined when the preview names no image. */
export function mermaidGraph(graph: ImageGraph, pins: readonly PinChange[] = []): string | undefined {
  if (graph.nodes.length === 0) return undefined;
  const lines = ["flowchart TD", ...STYLES.map((s) => `  ${s}`)];
  graph.nodes.forEach((node, i) => {
    lines.push(`  img${i}[${mermaidLabel(nodeLines(node))}]`);
  });
  for (const [base, child] of graph.edges) lines.push(`  img${base} --> img${child}`);
  for (const state of ["rebuild", "unchanged", "delete"] as const) {
    const ids = graph.nodes.flatMap((n, i) => (n.state === state ? [`img${i}`] : []));
    if (ids.length > 0) lines.push(`  class ${ids.join(",")} ${state}`);
  }
  if (pins.length > 0) {
    lines.push(
      `  subgraph pinbox[${mermaidLabel(["Template pins changed"])}]`,
      `    pinlist[${mermaidLabel(pinLines(pins))}]`,
      "  end",
      "  class pinlist pins",
    );
  }
  return lines.join("\n");
}
