/**
 * Text inside a Mermaid node label, as text and nothing else. Image names, repositories and reasons come
 * from the PR: a `"` or `]` would end the label, `%%` start a comment, `-->` or a newline add edges of the
 * PR's choosing, `<`/`&` become HTML (Mermaid renders labels as HTML), a backtick turn on markdown, and a
 * ``` close the comment's fence. Everything but plain letters, digits and a little punctuation becomes a
 * Mermaid entity code (`#35;`), which Mermaid turns back into that one character and nothing more.
 */
import { visible } from "../markdown/escape";

// Left as they are: what names and reasons are made of, none of it Mermaid or HTML syntax inside quotes.
const PLAIN_RE = /[A-Za-z0-9 ,.:/()+=_\u2026\u2192\u2212-]/u;
const MAX_CHARS = 120;

/** One line of a label: invisible characters shown (`\n`), cut at MAX_CHARS, the rest entity-coded. */
export function mermaidText(s: string): string {
  const shown = visible(s);
  const cut = [...shown].length > MAX_CHARS ? `${[...shown].slice(0, MAX_CHARS - 1).join("")}…` : shown;
  let out = "";
  for (const c of cut) out += PLAIN_RE.test(c) ? c : `#${c.codePointAt(0)};`;
  return out;
}

/** A quoted label from lines: each escaped, joined by the one piece of markup the diagram adds. */
export const mermaidLabel = (lines: readonly string[]): string => `"${lines.map(mermaidText).join("<br>")}"`;
