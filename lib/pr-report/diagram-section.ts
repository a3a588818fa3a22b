/**
 * The image diagram's place in the comment: a ```mermaid fence under its own heading, or, once the size
 * limit has taken it, one sentence saying so. Pure.
 */

import { mermaidGraph } from "./graph";
import { imageGraph } from "./graph-model";
import { imageRebuilds, type PinInfo } from "./images";
import type { PreviewDigest, ResourceChange } from "./preview";

export interface DiagramBlock {
  source: string;
  /** Set by the renderer when even the smallest report is too big with it: the diagram goes last. */
  dropped: boolean;
}

/** Undefined when the preview names no image (a no-change preview prints only the root stack). */
export function diagramBlock(
  preview: PreviewDigest,
  changes: readonly ResourceChange[],
  pins: PinInfo | undefined,
): DiagramBlock | undefined {
  const graph = imageGraph(preview.steps, imageRebuilds(changes, pins));
  const source = mermaidGraph(graph, pins?.changes);
  return source === undefined ? undefined : { source, dropped: false };
}

export function renderDiagram(d: DiagramBlock): string {
  if (d.dropped) return "_The image diagram was left out to fit the comment size limit._";
  // The labels hold no backtick (mermaid-label.ts codes them), so a plain fence cannot be closed early.
  return ["#### Image graph", "", "```mermaid", d.source, "```"].join("\n");
}
