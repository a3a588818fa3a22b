/**
 * Property-level differences of a change, and the plain-text diff rendered from them when no `--diff-text`
 * is given. Pure.
 */

import { valueAt } from "../json/value-at";
import { visible } from "../markdown/escape";
import type { ResourceChange } from "./preview";
import { isSecretKey, REDACTED } from "./secrets";

export type PathSegment = string | number;

// The sentinels a preview puts where a value is not known yet (sdk/go/common/resource/plugin/rpc.go).
const UNKNOWN_SENTINELS = new Set([
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);

export const isUnknown = (value: unknown): boolean =>
  typeof value === "string" && UNKNOWN_SENTINELS.has(value);

/**
 * Parses a detailedDiff key, Pulumi's PropertyPath string: `buildArgs.BASE_IMAGE`, `tags[0]`,
 * `labels["app.molecule.templates.digest"]` (a key with characters other than [A-Za-z0-9_] is quoted,
 * `"` escaped; sdk/go/common/resource/properties_path.go). A malformed path is one opaque segment.
 */
export function parsePropertyPath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let i = 0;
  const ident = () => {
    const start = i;
    while (i < path.length && path[i] !== "." && path[i] !== "[") i++;
    return path.slice(start, i);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === "[") {
      if (path[i + 1] === '"') {
        let key = "";
        i += 2;
        while (i < path.length && path[i] !== '"') {
          if (path[i] === "\\" && i + 1 < path.length) i++;
          key += path[i];
          i++;
        }
        if (path[i] !== '"' || path[i + 1] !== "]") return [path];
        segments.push(key);
        i += 2;
      } else {
        const end = path.indexOf("]", i);
        if (end < 0) return [path];
        const inner = path.slice(i + 1, end);
        segments.push(/^\d+$/.test(inner) ? Number(inner) : inner);
        i = end + 1;
      }
    } else if (c === ".") {
      i++;
      const key = ident();
      if (!key) return [path];
      segments.push(key);
    } else {
      segments.push(ident());
    }
  }
  return segments.length > 0 ? segments : [path];
}

/** The inverse of parsePropertyPath, in Pulumi's spelling. */
export function formatPropertyPath(segments: readonly PathSegment[]): string {
  return segments
    .map((s, index) => {
      if (typeof s === "number") return `[${s}]`;
      if (/^[A-Za-z0-9_]+$/.test(s)) return index === 0 ? s : `.${s}`;
      return `["${s.replace(/"/g, '\\"')}"]`;
    })
    .join("");
}

/** One line's worth of a value: unknowns and secrets by name, long values cut (the full diff is the log's). */
export function formatValue(value: unknown, max = 160): string {
  if (value === undefined) return "(none)";
  if (isUnknown(value)) return "(known after apply)";
  if (value === REDACTED) return REDACTED;
  const json = JSON.stringify(value) ?? String(value);
  return json.length > max ? `${json.slice(0, max - 1)}…` : json;
}

/**
 * Old and new of an update, each on one line. Two long strings that share a long prefix (a command line
 * with a flag appended) are shown from just before where they differ, or the cut would hide the change.
 */
export function formatPair(before: unknown, after: unknown, max = 160): [string, string] {
  if (typeof before === "string" && typeof after === "string" && !isUnknown(before) && !isUnknown(after)) {
    let common = 0;
    while (common < before.length && common < after.length && before[common] === after[common]) common++;
    const skip = common - 24;
    if (skip > 0 && Math.max(before.length, after.length) + 2 > max) {
      const cut = (s: string) => `…${formatValue(s.slice(skip), max - 1).slice(1)}`;
      return [`"${cut(before)}`, `"${cut(after)}`];
    }
  }
  return [formatValue(before, max), formatValue(after, max)];
}

export interface PropertyChange {
  path: string;
  segments: PathSegment[];
  kind: string;
  old: unknown;
  new: unknown;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

// Inputs first: the diff is about what the program asks for. Outputs cover output-only properties such
// as docker-build's contextHash.
const oldValue = (c: ResourceChange, path: PathSegment[]) =>
  valueAt(c.oldState?.inputs, path, REDACTED) ?? valueAt(c.oldState?.outputs, path, REDACTED);
const newValue = (c: ResourceChange, path: PathSegment[]) =>
  valueAt(c.newState?.inputs, path, REDACTED) ?? valueAt(c.newState?.outputs, path, REDACTED);

function withSecrets(change: PropertyChange): PropertyChange {
  if (!change.segments.some((s) => typeof s === "string" && isSecretKey(s))) return change;
  const blind = (v: unknown) => (v === undefined ? v : REDACTED);
  return { ...change, old: blind(change.old), new: blind(change.new) };
}

/**
 * A change of a whole object property split one level down (`labels` becomes the label that changed, which
 * is what says why an image rebuilds); anything else stays as it is.
 */
function splitOneLevel(key: string, kind: string, before: unknown, after: unknown): PropertyChange[] {
  const suffix = kind.endsWith("-replace") ? "-replace" : "";
  if (isPlainObject(before) && isPlainObject(after)) {
    const subkeys = new Set([...Object.keys(before), ...Object.keys(after)]);
    const changed = [...subkeys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (changed.length > 0) {
      return changed.map((sub) => {
        const subKind = !(sub in before) ? "add" : !(sub in after) ? "delete" : "update";
        const segments = [key, sub];
        return withSecrets({
          path: formatPropertyPath(segments),
          segments,
          kind: `${subKind}${suffix}`,
          old: before[sub],
          new: after[sub],
        });
      });
    }
  }
  return [withSecrets({ path: key, segments: [key], kind, old: before, new: after })];
}

/**
 * The changed properties of a change: detailedDiff when the provider gave one, else each of
 * diffReasons/replaceReasons. A top-level object property is split one level down either way: docker-build's
 * real detailedDiff names only `labels` or `buildArgs`, never the label or arg inside that changed.
 */
export function propertyChanges(change: ResourceChange): PropertyChange[] {
  const detailed = Object.entries(change.detailedDiff ?? {});
  if (detailed.length > 0) {
    return detailed.flatMap(([path, diff]) => {
      const segments = parsePropertyPath(path);
      const [top] = segments;
      if (segments.length === 1 && typeof top === "string") {
        return splitOneLevel(top, diff.kind, oldValue(change, segments), newValue(change, segments));
      }
      return [
        withSecrets({
          path,
          segments,
          kind: diff.kind,
          old: oldValue(change, segments),
          new: newValue(change, segments),
        }),
      ];
    });
  }
  const replacing = new Set(change.replaceReasons);
  return [...new Set([...change.diffReasons, ...change.replaceReasons])].flatMap((key) =>
    splitOneLevel(
      key,
      replacing.has(key) ? "update-replace" : "update",
      oldValue(change, [key]),
      newValue(change, [key]),
    ),
  );
}

/**
 * A unified-diff-looking text ("-" old, "+" new, "@@" per resource), so the markdown ```diff fence colours
 * it. Creates list their inputs; deletes say so; everything else lists property changes.
 */
export function renderDiffText(changes: readonly ResourceChange[]): string {
  const lines: string[] = [];
  for (const change of changes) {
    // Names, types and paths are the PR's: one line each, whatever they hold (values are JSON already).
    const name = visible(change.name);
    lines.push(`@@ ${change.op} ${visible(change.type)} ${name} @@`);
    if (change.op === "delete") {
      lines.push(`- (${name} is deleted)`);
      continue;
    }
    const properties = propertyChanges(change);
    if (properties.length === 0 && (change.op === "create" || change.op === "import")) {
      // `__defaults` and similar are engine bookkeeping, not what the program declared.
      const inputs = Object.entries(change.newState?.inputs ?? {}).filter(([k]) => !k.startsWith("__"));
      for (const [key, value] of inputs) {
        lines.push(`+ ${visible(key)}: ${formatValue(isSecretKey(key) ? REDACTED : value)}`);
      }
      continue;
    }
    if (properties.length === 0) {
      lines.push("  (the provider reported no property detail)");
      continue;
    }
    for (const p of properties) {
      const forces = p.kind.endsWith("-replace") ? " (forces replacement)" : "";
      const [before, after] = formatPair(p.old, p.new);
      const path = visible(p.path);
      if (!p.kind.startsWith("add")) lines.push(`- ${path}: ${before}`);
      if (!p.kind.startsWith("delete")) lines.push(`+ ${path}: ${after}${forces}`);
      else if (forces) lines.push(`  ${path} removed${forces}`);
    }
  }
  return lines.join("\n");
}
