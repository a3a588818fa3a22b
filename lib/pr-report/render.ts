/**
 * The PR report as markdown. Pure: data in, one string out, no I/O, so every shape (first run, pin bump,
 * replacement, no change, a diff too big for a comment) is tested as a value.
 *
 * Layout: the hidden marker (how the poster finds its own comment again), a headline, the image graph as a
 * diagram, the resources table, why each image rebuilds, the template pins, warnings and errors, and the full
 * diff collapsed. The whole must fit in one forge comment: the collapsed diff is cut first, the other
 * sections only if still needed, and the diagram last of all.
 */

import { cell, code, diffLine, text } from "../markdown/escape";
import { type DiagramBlock, diagramBlock, renderDiagram } from "./diagram-section";
import { renderDiffText } from "./diff";
import { type ImageRebuild, imageRebuilds, type PinInfo } from "./images";
import { type PinChange, short } from "./pins";
import { type ChangeSet, foldSteps, type PreviewDigest, type ResourceChange } from "./preview";
import { maskText } from "./secrets";

/** Starts every report: invisible when rendered, and unique to this tool. */
export const REPORT_MARKER = "<!-- molecule-images:pr-report -->";
/** GitHub rejects a comment body over 65,536 characters; Gitea allows more, so GitHub's limit is the one. */
export const COMMENT_LIMIT = 65_536;

export interface ReportInput {
  /** Already sanitised (sanitizePreview): this module formats, it does not judge secrecy of raw input. */
  preview: PreviewDigest;
  /** Pin comparison, when manifests were given. */
  pins?: PinInfo;
  /** Why pins could not be compared, when `--manifest` was given without a base to compare with. */
  pinNote?: string;
  /** `--diff-text`, already masked; otherwise the diff is rendered from detailedDiff. */
  diffText?: string;
  /** A last pass over the output: nothing that slipped through the sanitiser leaves with a mask value. */
  masks?: readonly string[];
  /** Characters allowed (tests use a small one); COMMENT_LIMIT by default. */
  limit?: number;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A section whose rows can be dropped from the end when the comment is too big. */
interface Section {
  head: string[];
  rows: string[];
  shown: number;
  /** "resources", "pins": named in the "and N more" line. */
  unit: string;
}

function section(head: string[], rows: string[], unit: string): Section {
  return { head, rows, shown: rows.length, unit };
}

function renderSection(s: Section): string {
  const omitted = s.rows.length - s.shown;
  const lines = [...s.head, ...s.rows.slice(0, s.shown)];
  // A blank line first: a text line straight after a table would be read as one more row.
  if (omitted > 0) {
    const unit = omitted === 1 ? s.unit.replace(/s$/, "") : s.unit;
    lines.push("", `_…${omitted} more ${unit} not shown (comment size limit)._`);
  }
  return lines.join("\n");
}

function headline(set: ChangeSet, preview: PreviewDigest, errors: number): string[] {
  const { counts } = set;
  const stack = set.stack ? ` for ${code(set.stack)}` : "";
  const lines = [`### Pulumi preview${stack}`, ""];
  const parts = [
    counts.create && `${counts.create} to create`,
    counts.import && `${counts.import} to import`,
    counts.update && `${counts.update} to update`,
    counts.replace && `${counts.replace} to replace`,
    counts.delete && `${counts.delete} to delete`,
  ].filter(Boolean);
  if (errors > 0) {
    lines.push(
      `**The preview failed** with ${plural(errors, "error")} (see Diagnostics below): the changes listed may be incomplete.`,
    );
    if (parts.length > 0) lines.push("", `**${parts.join(", ")}**, ${counts.same} unchanged.`);
  } else if (parts.length === 0) {
    lines.push(
      `**No changes.** Nothing will be created, updated, replaced or deleted (${plural(counts.same, "resource")} unchanged), and no image will be rebuilt.`,
    );
  } else {
    lines.push(`**${parts.join(", ")}**, ${counts.same} unchanged.`);
  }
  if (preview.maybeCorrupt) {
    lines.push("", "**Warning:** Pulumi reports that one or more resources may be corrupt.");
  }
  return lines;
}

function reasonsOf(change: ResourceChange): string {
  const keys =
    change.op === "replace" && change.replaceReasons.length > 0 ? change.replaceReasons : change.diffReasons;
  if (change.op === "create" || change.op === "import" || change.op === "delete" || keys.length === 0)
    return "";
  const shown = keys.slice(0, 6).map(code);
  const more = keys.length - shown.length;
  return `${shown.join(", ")}${more > 0 ? `, +${more} more` : ""}`;
}

function resourcesSection(changes: ResourceChange[]): Section {
  const rows = changes.map(
    (c) => `| ${c.op} | ${cell(code(c.type))} | ${cell(code(c.name))} | ${cell(reasonsOf(c))} |`,
  );
  return section(
    ["#### Resources", "", "| Op | Type | Name | Reasons |", "|---|---|---|---|"],
    rows,
    "resources",
  );
}

function imagesSection(rebuilds: ImageRebuild[]): Section {
  if (rebuilds.length === 0) return section(["#### Images", "", "No image will be rebuilt."], [], "images");
  const rows = rebuilds.map(
    // The reasons are fixed words around names (pins, build args, inputs): text() leaves the words as they are.
    (r) => `- **${text(r.image)}** (${code(r.resource)}, ${r.op}): ${r.reasons.map(text).join("; ")}`,
  );
  return section(["#### Images", ""], rows, "images");
}

function pinCell(change: PinChange): string {
  if (change.kind === "added") return `added at ${code(short(change.newRef))}`;
  if (change.kind === "removed") return `removed (was ${code(short(change.oldRef))})`;
  return `${code(short(change.oldRef))} → ${code(short(change.newRef))}`;
}

function pinsSection(pins: PinInfo | undefined, note: string | undefined): Section | undefined {
  if (!pins) return note ? section(["#### Template pins", "", note], [], "pins") : undefined;
  const intro =
    pins.source === "recorded"
      ? ["Compared with the pins the stack last recorded (no `--base-manifest` was given).", ""]
      : [];
  if (pins.changes.length === 0) {
    return section(["#### Template pins", "", ...intro, "No template pin changed."], [], "pins");
  }
  const rows = pins.changes.map(
    (c) => `| ${cell(code(c.key))} | ${cell(text(c.repo ?? ""))} | ${cell(pinCell(c))} |`,
  );
  return section(
    ["#### Template pins", "", ...intro, "| Entry | Repository | Pin |", "|---|---|---|"],
    rows,
    "pins",
  );
}

function diagnosticsSection(preview: PreviewDigest): Section | undefined {
  // Info messages are the program's console output: noise in a review, and in the CI log anyway.
  const shown = preview.diagnostics.filter((d) => d.severity === "error" || d.severity === "warning");
  if (shown.length === 0) return undefined;
  const rows = shown.map((d) => {
    const message = (d.message ?? "").trim().replace(/\s*\n\s*/g, " ");
    const cut = message.length > 400 ? `${message.slice(0, 399)}…` : message;
    const who = d.urn ? ` ${code(d.urn.split("::").pop() ?? d.urn)}` : "";
    return `- **${text(d.severity ?? "")}**${who}: ${text(cut)}`;
  });
  return section(["#### Diagnostics", ""], rows, "diagnostics");
}

interface DiffBlock {
  lines: string[];
  shown: number;
  /** True when even an empty diff block does not fit: only a sentence is left. */
  dropped: boolean;
}

function renderDiff(d: DiffBlock): string {
  const total = d.lines.length;
  if (d.dropped) {
    return `_The full diff (${plural(total, "line")}) is too large for a comment and was left out: see the CI log._`;
  }
  const body = d.lines.slice(0, d.shown).join("\n");
  const runs = body.match(/`{3,}/g) ?? [];
  // A fence longer than any run inside, so a diff holding ``` cannot close the block early.
  const fence = "`".repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
  const truncated = d.shown < total;
  const summary = truncated
    ? `Full diff (truncated: ${d.shown} of ${plural(total, "line")})`
    : `Full diff (${plural(total, "line")})`;
  const lines = ["<details>", `<summary>${summary}</summary>`, "", `${fence}diff`, body, fence, ""];
  if (truncated) {
    lines.push(
      `_The diff was truncated to fit the comment size limit: ${total - d.shown} more lines are in the CI log._`,
      "",
    );
  }
  lines.push("</details>");
  return lines.join("\n");
}

export function renderReport(input: ReportInput): string {
  const limit = input.limit ?? COMMENT_LIMIT;
  const masks = input.masks ?? [];
  const preview = input.preview;
  const set = foldSteps(preview);
  const errors = preview.diagnostics.filter((d) => d.severity === "error").length;
  const hasChanges = set.changes.length > 0;

  const head = [REPORT_MARKER, ...headline(set, preview, errors)].join("\n");
  const pins = pinsSection(input.pins, input.pinNote);
  const diagnostics = diagnosticsSection(preview);
  const resources = hasChanges ? resourcesSection(set.changes) : undefined;
  const images = hasChanges ? imagesSection(imageRebuilds(set.changes, input.pins)) : undefined;
  const diagram: DiagramBlock | undefined = diagramBlock(preview, set.changes, input.pins);
  // A no-change preview has nothing to unfold: the headline says it all.
  const diffSource = hasChanges ? (input.diffText ?? renderDiffText(set.changes)) : "";
  const diff: DiffBlock | undefined = diffSource.trim()
    ? {
        lines: maskText(diffSource.replace(/\s+$/, ""), masks).split("\n").map(diffLine),
        shown: 0,
        dropped: false,
      }
    : undefined;
  if (diff) diff.shown = diff.lines.length;

  const sections = [resources, images, pins, diagnostics].filter((s): s is Section => s !== undefined);
  const assemble = () =>
    maskText(
      `${[head, ...(diagram ? [renderDiagram(diagram)] : []), ...sections.map(renderSection), ...(diff ? [renderDiff(diff)] : [])].join("\n\n")}\n`,
      masks,
    );

  let out = assemble();
  if (out.length <= limit) return out;

  // 1. The diff: keep as many leading lines as fit (the summary already says what changes).
  if (diff) {
    diff.shown = 0;
    const fixed = assemble().length;
    if (fixed > limit) {
      diff.dropped = true;
    } else {
      let budget = limit - fixed;
      let shown = 0;
      for (const line of diff.lines) {
        const cost = line.length + 1;
        if (cost > budget) break;
        budget -= cost;
        shown++;
      }
      diff.shown = shown;
      // The truncation note mentions counts whose digits can change the length: re-check, step back if needed.
      while (diff.shown > 0 && assemble().length > limit) diff.shown--;
      if (diff.shown === 0) diff.dropped = true;
    }
    out = assemble();
    if (out.length <= limit) return out;
  }

  // 2. Then rows, least telling first: pins (also in the manifest diff), diagnostics (also in the log),
  //    resources, and last the image reasons, which are what this report is for.
  for (const s of [pins, diagnostics, resources, images]) {
    if (!s || s.rows.length === 0) continue;
    let lo = 0;
    let hi = s.rows.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      s.shown = mid;
      if (assemble().length <= limit) lo = mid;
      else hi = mid - 1;
    }
    s.shown = lo;
    out = assemble();
    if (out.length <= limit) return out;
  }

  // 3. The diagram: what a reviewer looks at first, so it goes only when nothing else is left to cut.
  if (diagram) {
    diagram.dropped = true;
    out = assemble();
    if (out.length <= limit) return out;
  }

  // 4. Only a pathological headline is left (the limit is tiny): cut it, keeping the marker.
  const note = "\n\n_…truncated to the comment size limit._\n";
  return `${out.slice(0, Math.max(REPORT_MARKER.length, limit - note.length))}${note}`.slice(0, limit);
}
