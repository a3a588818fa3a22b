/** The two table shapes the benches print: aligned columns for a terminal, Markdown for the README. */

/**
 * Rows padded to their column's widest cell: the first column (the label) left-aligned, the figures
 * right-aligned, two spaces between. With `rule`, a line of dashes follows the first row (the header).
 */
export function alignedTable(rows: string[][], opts: { rule: boolean }): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  const [header = [], ...body] = rows;
  const rule = opts.rule ? [widths.map((w) => "-".repeat(w)).join("  ")] : [];
  return [line(header), ...rule, ...body.map(line)];
}

/** A Markdown table, cells as given; an empty cell is a single space. */
export function markdownTable(header: string[], rows: string[][]): string[] {
  const line = (cells: string[]) => `|${cells.map((c) => (c ? ` ${c} ` : " ")).join("|")}|`;
  return [line(header), `|${header.map(() => "---|").join("")}`, ...rows.map(line)];
}
