/**
 * Putting values into markdown (the PR report's forge comment, the drift report) as text and nothing else. Resource names, types, property paths,
 * values, diagnostics and pin names come from the preview and the manifests, that is from the PR: a name
 * like `@octocat <details>` would mention a user and fold away the rest of the report, a `|` would split a
 * table row, a backtick run would close a code span or fence, a bidi override would reorder what a reviewer
 * reads. Every value the report renders goes through one of these:
 *
 * - code(): an inline code span (no markup, no HTML, no mention inside one), fenced longer than any
 *   backtick run in the value;
 * - text(): prose, with HTML's `<`, `>`, `&` as entities, markdown's punctuation backslash-escaped, and a
 *   zero-width joiner after `@` so it mentions nobody;
 * - cell(): either of those inside a table row (`|` escaped: GFM splits cells before inline parsing,
 *   even inside code spans);
 * - visible(): control, bidi and zero-width characters as `\uXXXX`, so nothing invisible reaches a reader
 *   (the diff block applies it per line).
 */

// C0 and C1 controls (tab and newline too: a value is one line), soft hyphen, Arabic letter mark, Mongolian
// vowel separator, zero-width space/joiners/marks, line and paragraph separators, bidi embeddings, overrides
// and isolates, word joiner and invisible operators, BOM, interlinear annotation controls.
const INVISIBLE_RE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\0-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/g;
const INVISIBLE_BUT_TAB_RE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: as above, less the tab
  /[\0-\x08\x0a-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

const show = (c: string) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** Invisible characters as escapes: `a\u202eb`, `line\nbreak`. */
export function visible(s: string, { keepTabs = false } = {}): string {
  return s.replace(keepTabs ? INVISIBLE_BUT_TAB_RE : INVISIBLE_RE, show);
}

// ANSI escape sequences (colour from a `pulumi preview --diff` run without --color never): CSI and OSC.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point
const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;

/** One line of the collapsed diff: colour codes dropped, a trailing CR dropped, the rest made visible. */
export function diffLine(line: string): string {
  return visible(line.replace(/\r$/, "").replace(ANSI_RE, ""), { keepTabs: true });
}

/** An inline code span that survives backticks in the content (CommonMark: a longer fence). */
export function code(s: string): string {
  const v = visible(s);
  const runs = v.match(/`+/g) ?? [];
  const fence = "`".repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  // The padding spaces are stripped again by the renderer; they keep a leading or trailing ` apart.
  return fence.length > 1 ? `${fence} ${v} ${fence}` : `\`${v}\``;
}

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/**
 * Prose: renders as exactly the characters given. `_` is escaped only where it could open or close
 * emphasis (not inside a word: `workspace_templates` stays as it is); `$` too, as GitHub renders `$…$` as math.
 */
export function text(s: string): string {
  return (
    visible(s)
      .replace(/[&<>]|[\\`*[\]~$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, (c) => ENTITIES[c] ?? `\\${c}`)
      // GitHub mentions only after a non-word character (user@example.com mentions nobody).
      .replace(/(?<![A-Za-z0-9_])@(?=[A-Za-z0-9_-])/g, "@\u200d")
  );
}

/** Inside a table row: `|` escaped, whatever the span, and a line break made a space (a row is one line). */
export const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
