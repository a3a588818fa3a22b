/**
 * Why each image rebuilds, in the program's own terms: the staged templates (the label the program sets
 * from the templates record's digest), the parent's digest (BASE_IMAGE), the build context, the commit
 * (tags). Pure: it reads the change's property diff and the pin comparison.
 */
import { REVISION_LABEL, TEMPLATES_LABEL } from "../stack/image-spec";
import { isUnknown, type PropertyChange, propertyChanges } from "./diff";
import { describePinChange, type PinChange, short } from "./pins";
import { parseUrn, type ResourceChange } from "./preview";
import { repositoryMove } from "./repository";

export const IMAGE_TYPE = "docker-build:index:Image";
// The default `baseArg`; a custom one is recognised by its value, a digest reference.
const BASE_ARG = "BASE_IMAGE";
const DIGEST_REF_RE = /@sha256:[0-9a-f]{64}$/;
// How many pins one line names before "and N more": the pin table has them all.
const PINS_PER_LINE = 5;

export interface ImageRebuild {
  /** The image's name in the stack config (`platform-agent`), from its PlatformImage parent. */
  image: string;
  /** The docker-build resource's name (`platform-agent-image`). */
  resource: string;
  op: ResourceChange["op"];
  reasons: string[];
}

export interface PinInfo {
  changes: PinChange[];
  /** Where the base pins came from: the base branch's manifest, or what the stack last recorded. */
  source: "base-manifest" | "recorded";
}

function imageName(change: ResourceChange): string {
  const parent = change.newState?.parent ?? change.oldState?.parent;
  if (parent) return parseUrn(parent).name;
  return change.name.replace(/-image$/, "");
}

function templatesReason(pins: PinInfo | undefined): string {
  if (!pins) return "templates changed (staged digest)";
  if (pins.changes.length === 0) return "templates changed (staged digest; no manifest pin moved)";
  const named = pins.changes.slice(0, PINS_PER_LINE).map(describePinChange);
  const more = pins.changes.length - named.length;
  return `templates changed: ${named.join(", ")}${more > 0 ? `, and ${more} more` : ""}`;
}

/** The new commit, from the revision label or the per-commit tag (`<prefix>-<sha7>`), when known. */
function newCommit(change: ResourceChange): string | undefined {
  const labels = change.newState?.inputs?.labels as Record<string, unknown> | undefined;
  const revision = labels?.[REVISION_LABEL];
  if (typeof revision === "string" && /^[0-9a-f]{7,40}$/.test(revision)) return short(revision);
  const tags = change.newState?.inputs?.tags;
  if (Array.isArray(tags)) {
    for (const tag of tags) {
      const m = typeof tag === "string" && !isUnknown(tag) ? /-([0-9a-f]{7,40})$/.exec(tag) : null;
      if (m?.[1]) return short(m[1]);
    }
  }
  return undefined;
}

/** The commit the old tags name: unchanged when only the repository moved. */
function oldCommit(change: ResourceChange): string | undefined {
  return newCommit({ ...change, newState: change.oldState });
}

type Category = "templates" | "base" | "context" | "dockerfile" | "args" | "commit" | "other";

function categorise(p: PropertyChange): { category: Category; detail: string } {
  const [top, sub] = p.segments;
  if (top === "labels" && sub === TEMPLATES_LABEL) return { category: "templates", detail: "" };
  if (top === "labels" && sub === REVISION_LABEL) return { category: "commit", detail: "" };
  if (top === "tags") return { category: "commit", detail: "" };
  if (top === "buildArgs" && sub !== undefined) {
    const looksLikeBase = [p.old, p.new].some((v) => typeof v === "string" && DIGEST_REF_RE.test(v));
    if (sub === BASE_ARG || looksLikeBase) return { category: "base", detail: "" };
    return { category: "args", detail: String(sub) };
  }
  if (top === "contextHash" || top === "context") return { category: "context", detail: "" };
  if (top === "dockerfile") return { category: "dockerfile", detail: "" };
  return { category: "other", detail: String(top) };
}

/** One entry per image that builds (create, update, replace), with every reason, most telling first. */
export function imageRebuilds(changes: readonly ResourceChange[], pins?: PinInfo): ImageRebuild[] {
  const out: ImageRebuild[] = [];
  for (const change of changes) {
    if (change.type !== IMAGE_TYPE || change.op === "delete") continue;
    const base = { image: imageName(change), resource: change.name, op: change.op };
    if (change.op === "create" || change.op === "import") {
      out.push({ ...base, reasons: ["new image (first build)"] });
      continue;
    }
    const found = new Map<Category, Set<string>>();
    for (const p of propertyChanges(change)) {
      const { category, detail } = categorise(p);
      const set = found.get(category) ?? new Set<string>();
      if (detail) set.add(detail);
      found.set(category, set);
    }
    const reasons: string[] = [];
    if (found.has("templates")) reasons.push(templatesReason(pins));
    if (found.has("base")) reasons.push("base image changed");
    if (found.has("context")) reasons.push("build context changed");
    if (found.has("dockerfile")) reasons.push("Dockerfile changed");
    if (found.has("args")) reasons.push(`build args changed: ${[...(found.get("args") ?? [])].join(", ")}`);
    const move = repositoryMove(change.oldState, change.newState);
    if (move) {
      reasons.push(`repository changed: ${move.from} → ${move.to}`);
      // The tags and the registry cache refs name the repository: the move says why they changed.
      for (const key of ["cacheFrom", "cacheTo"]) found.get("other")?.delete(key);
      if (found.get("other")?.size === 0) found.delete("other");
    }
    if (found.has("commit") && !(move && newCommit(change) === oldCommit(change))) {
      const commit = newCommit(change);
      reasons.push(commit ? `tags changed (new commit ${commit})` : "tags changed (new commit)");
    }
    if (found.has("other")) reasons.push(`inputs changed: ${[...(found.get("other") ?? [])].join(", ")}`);
    if (reasons.length === 0) reasons.push("changed (the provider gave no detail)");
    out.push({ ...base, reasons });
  }
  return out;
}
