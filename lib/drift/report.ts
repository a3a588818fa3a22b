/** Renders drift results for people (an aligned table), machines (JSON) and CI (markdown). Pure. */

import { cell } from "../markdown/escape";
import type { DriftResult, DriftStatus } from "./types";

export interface Summary {
  total: number;
  ok: number;
  drift: number;
  errors: number;
  byStatus: Partial<Record<DriftStatus, number>>;
}

export function summarize(results: DriftResult[]): Summary {
  const byStatus: Partial<Record<DriftStatus, number>> = {};
  for (const r of results) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const errors = byStatus.error ?? 0;
  const ok = byStatus.ok ?? 0;
  return { total: results.length, ok, errors, drift: results.length - ok - errors, byStatus };
}

export function renderJson(results: DriftResult[]): string {
  return `${JSON.stringify({ results, summary: summarize(results) }, null, 2)}\n`;
}

const COLOURS: Record<DriftStatus, number> = {
  ok: 32,
  "missing-repository": 31,
  empty: 31,
  "missing-tag": 31,
  "digest-drift": 31,
  stale: 33,
  unmanaged: 33,
  error: 35,
};

function summaryLine(s: Summary): string {
  const parts = Object.entries(s.byStatus).map(([status, n]) => `${n} ${status}`);
  return `${s.total} checked: ${parts.join(", ")}`;
}

/** Colour only when asked (the CLI asks on a TTY): escape codes in CI logs and files are noise. */
export function renderTable(results: DriftResult[], colour: boolean): string {
  const head = ["IMAGE", "REPOSITORY", "STATUS", "IMAGES", "NEWEST PUSH", "DETAIL"];
  const rows = results.map((r) => [
    r.image ?? "-",
    r.repository,
    r.status,
    r.imageCount === null ? "-" : String(r.imageCount),
    r.newestPush ? r.newestPush.slice(0, 10) : "-",
    r.detail,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[], status?: DriftStatus) =>
    cells
      .map((value, i) => {
        const padded = i === cells.length - 1 ? value : value.padEnd(widths[i] ?? 0);
        return colour && status && i === 2 ? `\x1b[${COLOURS[status]}m${padded}\x1b[0m` : padded;
      })
      .join("  ")
      .trimEnd();
  return `${[line(head), ...rows.map((row, i) => line(row, results[i]?.status))].join("\n")}\n\n${summaryLine(summarize(results))}\n`;
}

export function renderMarkdown(
  results: DriftResult[],
  meta: { source: string; maxAgeDays: number; at: Date },
): string {
  const s = summarize(results);
  const verdict = s.errors > 0 ? "could not check everything" : s.drift > 0 ? "drift found" : "no drift";
  const icon = s.errors > 0 ? ":warning:" : s.drift > 0 ? ":x:" : ":white_check_mark:";
  const rows = results.map(
    (r) =>
      `| ${r.image ?? "—"} | \`${cell(r.repository)}\` | **${r.status}** | ${r.imageCount ?? "—"} | ${r.newestPush?.slice(0, 10) ?? "—"} | ${cell(r.detail)} |`,
  );
  return [
    `## Image drift: ${icon} ${verdict}`,
    "",
    `${summaryLine(s)}. Expected state from ${meta.source}; stale means no push for more than ${meta.maxAgeDays} days. Checked ${meta.at.toISOString()}.`,
    "",
    "| image | repository | status | images | newest push | detail |",
    "|---|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}
