/**
 * The image graph as the preview shows it: one node per docker-build Image, one edge from base to child.
 * It is read from the preview, not the stack config, so it shows the graph the engine is about to act on
 * (the report gets no config file, and the config a PR changes is what the preview already evaluated).
 * Pure: steps and the rebuild reasons in, nodes and edges out.
 */
import { IMAGE_TYPE, type ImageRebuild } from "./images";
import { type PreviewStep, parseUrn, type ResourceState } from "./preview";
import { repositoryOfState } from "./repository";

export interface GraphNode {
  urn: string;
  /** The image's name in the stack config (its PlatformImage parent), or the resource name less `-image`. */
  image: string;
  /** `molecule-ai/platform`: the first tag's repository, without the registry host, when known. */
  repository?: string;
  state: "rebuild" | "delete" | "unchanged";
  reasons: string[];
}

export interface ImageGraph {
  nodes: GraphNode[];
  /** Indexes into nodes: [base, child]. */
  edges: Array<[number, number]>;
}

const DIGEST_RE = /@(sha256:[0-9a-f]{64})$/;

function nameOf(urn: string, state: ResourceState | undefined): string {
  if (state?.parent) return parseUrn(state.parent).name;
  return parseUrn(urn).name.replace(/-image$/, "");
}

/** Image URNs this image's build args depend on (the base's ref), as the engine recorded them. */
function baseUrns(state: ResourceState | undefined): string[] {
  const deps = (state as { propertyDependencies?: Record<string, unknown> } | undefined)
    ?.propertyDependencies;
  const urns = deps?.buildArgs;
  if (!Array.isArray(urns)) return [];
  return urns.filter((u): u is string => typeof u === "string" && parseUrn(u).type === IMAGE_TYPE);
}

/** Without recorded dependencies (hand-written previews): a build arg pinned to another image's old digest. */
function baseByDigest(state: ResourceState | undefined, digests: Map<string, string>): string[] {
  const args = state?.inputs?.buildArgs;
  if (!args || typeof args !== "object") return [];
  return Object.values(args as Record<string, unknown>).flatMap((v) => {
    const digest = typeof v === "string" ? DIGEST_RE.exec(v)?.[1] : undefined;
    const urn = digest ? digests.get(digest) : undefined;
    return urn ? [urn] : [];
  });
}

interface Seen {
  urn: string;
  op: string;
  oldState?: ResourceState;
  newState?: ResourceState;
}

function imageSteps(steps: readonly PreviewStep[]): Map<string, Seen> {
  const seen = new Map<string, Seen>();
  for (const step of steps) {
    const type = step.newState?.type ?? step.oldState?.type ?? parseUrn(step.urn).type;
    if (type !== IMAGE_TYPE) continue;
    const prev = seen.get(step.urn);
    seen.set(step.urn, {
      urn: step.urn,
      // A replacement's physical steps fold into it; `same` never overrides a change.
      op: prev && prev.op !== "same" ? prev.op : step.op,
      oldState: prev?.oldState ?? step.oldState ?? undefined,
      newState: (step.op === "delete-replaced" ? undefined : step.newState) ?? prev?.newState,
    });
  }
  return seen;
}

function nodeOf(s: Seen, rebuild: ImageRebuild | undefined): GraphNode {
  const state = s.newState ?? s.oldState;
  // The new repository: a move is one of the rebuild's reasons (images.ts).
  const repository = repositoryOfState(s.newState) ?? repositoryOfState(s.oldState);
  const deleted = s.op === "delete";
  return {
    urn: s.urn,
    image: rebuild?.image ?? nameOf(s.urn, state),
    repository,
    state: deleted ? "delete" : rebuild ? "rebuild" : "unchanged",
    reasons: deleted ? ["removed from the stack"] : (rebuild?.reasons ?? []),
  };
}

/** Every image the preview names (changed, `same` with --show-sames, or only referenced as a base). */
export function imageGraph(steps: readonly PreviewStep[], rebuilds: readonly ImageRebuild[]): ImageGraph {
  const seen = imageSteps(steps);
  const byResource = new Map(rebuilds.map((r) => [r.resource, r]));
  const digests = new Map<string, string>();
  for (const s of seen.values()) {
    const digest = s.oldState?.outputs?.digest;
    if (typeof digest === "string") digests.set(digest, s.urn);
  }
  const index = new Map<string, number>();
  const nodes: GraphNode[] = [];
  const add = (urn: string, node: () => GraphNode) => {
    if (!index.has(urn)) index.set(urn, nodes.push(node()) - 1);
    return index.get(urn) as number;
  };
  // Every image with a step first, so a base whose step comes after its child's is not taken for unchanged.
  for (const s of seen.values()) add(s.urn, () => nodeOf(s, byResource.get(parseUrn(s.urn).name)));
  const edges: Array<[number, number]> = [];
  const keys = new Set<string>();
  for (const s of seen.values()) {
    const child = index.get(s.urn) as number;
    const found = baseUrns(s.newState ?? s.oldState);
    const bases = found.length > 0 ? found : baseByDigest(s.oldState, digests);
    for (const urn of new Set(bases)) {
      // A base with no step of its own is unchanged: `--json` prints `same` steps only with --show-sames.
      const base = add(urn, () => ({ urn, image: nameOf(urn, undefined), state: "unchanged", reasons: [] }));
      const key = `${base}>${child}`;
      if (base !== child && !keys.has(key)) {
        keys.add(key);
        edges.push([base, child]);
      }
    }
  }
  return { nodes, edges };
}
