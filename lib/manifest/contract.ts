/**
 * The manifest contract: which template repositories are staged, pinned to which commit.
 *
 * Pure: parsing and validation only (callers read the file), so it is tested without a disk and shared
 * by the stager CLI and the Pulumi program.
 */
import { z } from "zod";
import { valueAt } from "../json/value-at";
import { stripBom } from "../text/bom";

export const LISTS = ["plugins", "workspace_templates", "org_templates"] as const;
export type ListName = (typeof LISTS)[number];

/** Where each list lands under the staging destination (what the Dockerfiles COPY). */
export const LIST_DIRS: Record<ListName, string> = {
  workspace_templates: "workspace-configs-templates",
  org_templates: "org-templates",
  plugins: "plugins",
};

/** A full commit SHA, as git prints it: the only ref a pin, or a build's commit, may be. */
export const COMMIT_SHA_RE = /^[0-9a-f]{40}$/;
// owner/name as git hosts allow them; no "..", no empty parts, so the repo cannot escape the base URL.
const REPO_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * A name is a directory under the staging tree, a COPY source and text in a PR comment: ASCII letters,
 * digits, '.', '_' and '-', starting with a letter or digit. Every real name fits; markup (`@user <details>`),
 * control and bidi characters, and look-alikes that differ only by Unicode normalisation cannot.
 */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Far below the file systems' 255 bytes: a name is one path segment, and `.tmp-`/`.old-` prefixes add to it. */
export const MAX_NAME_LENGTH = 100;
// C0 and C1 controls, soft hyphen, Arabic letter mark, Mongolian vowel separator, zero-width characters and
// marks, line and paragraph separators, bidi embeddings, overrides and isolates, word joiner and invisible
// operators, BOM, interlinear annotation controls: nothing a reader cannot see, nothing that reorders a line.
const UNSAFE_TEXT_RE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  /[\0-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]/;

/**
 * A name, key or value as an error message shows it: printable ASCII as it is, anything else as `\uXXXX`,
 * so a hostile manifest cannot clear the terminal, reorder the log line or pass a look-alike for ASCII.
 */
export function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const entrySchema = z.strictObject({
  name: z
    .string({ error: "expected a string" })
    .refine((n) => n.length > 0, "expected a non-empty name")
    .refine((n) => !n.includes("/") && !n.includes("\\"), "expected a single path segment (no '/' or '\\')")
    .refine(
      (n) => n !== "." && n !== ".." && !n.startsWith("."),
      "expected a name that does not start with '.'",
    )
    .refine((n) => n.length <= MAX_NAME_LENGTH, `expected at most ${MAX_NAME_LENGTH} characters`)
    // The charset last, so a name the rules above reject gets their more telling message alone.
    .refine(
      (n) => /[/\\]/.test(n) || n.startsWith(".") || n === "" || NAME_RE.test(n),
      "expected only ASCII letters, digits, '.', '_' and '-' (no spaces, markup, control, bidi or non-ASCII characters)",
    ),
  repo: z
    .string({ error: "expected a string" })
    .refine((r) => REPO_RE.test(r) && !r.includes(".."), 'expected "owner/name"'),
  ref: z.string({ error: "expected a string" }).refine((r) => COMMIT_SHA_RE.test(r), {
    // The pinning contract: a branch or tag is mutable, so only a full commit SHA reproduces a build.
    error: "expected a full 40-character lowercase hex commit SHA (no branch or tag names)",
  }),
  runtime: z
    .string({ error: "expected a string" })
    .min(1, "expected a non-empty runtime id")
    .refine((r) => !UNSAFE_TEXT_RE.test(r), "expected no control or bidi characters")
    .optional(),
  private: z.boolean({ error: "expected true or false" }).optional(),
  provider: z.enum(["moleculesai", "github"], { error: 'expected "moleculesai" or "github"' }).optional(),
});

export type ManifestEntry = z.infer<typeof entrySchema>;

const listSchema = z.array(entrySchema, { error: "expected an array of entries" });

const manifestSchema = z.object({
  version: z.literal(1, { error: "expected 1" }),
  plugins: listSchema,
  workspace_templates: listSchema,
  org_templates: listSchema,
});

export type Manifest = z.infer<typeof manifestSchema>;

/** One entry with the list it came from: names are unique only within a list. */
export interface PlannedEntry extends ManifestEntry {
  list: ListName;
}

export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    // Each line names the file too: CI logs are grepped line by line.
    super(
      `${file}: invalid manifest (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  ${file}: ${p}`).join("\n")}`,
    );
    this.name = "ManifestError";
  }
}

/**
 * Automation appended full-line `//` comments to the real file and the old tooling stripped them.
 * They are blanked rather than removed so JSON error positions still point at the right line.
 */
function stripLineComments(text: string): string {
  return text
    .split("\n")
    .map((line) => (line.trimStart().startsWith("//") ? "" : line))
    .join("\n");
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

function describeJsonError(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const pos = /at position (\d+)/.exec(message);
  const where = pos?.[1] ? ` at ${lineAndColumn(text, Number(pos[1]))}` : "";
  return `not valid JSON${where}: ${message.replace(/ in JSON at position \d+.*$/, "")}`;
}

function locate(data: unknown, path: PropertyKey[]): string {
  const [list, index, field] = path;
  if (typeof list !== "string") return "(top level)";
  if (typeof index !== "number") return list;
  const entry = (data as Record<string, unknown[]>)[list]?.[index];
  const name =
    entry && typeof entry === "object" && typeof (entry as { name?: unknown }).name === "string"
      ? ` (${printable((entry as { name: string }).name)})`
      : "";
  const fieldPart = field === undefined ? "" : `: ${printable(String(field))}`;
  return `${list}[${index}]${name}${fieldPart}`;
}

function shown(value: unknown): string {
  const json = printable(JSON.stringify(value) ?? String(value));
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

function describeIssue(data: unknown, issue: z.core.$ZodIssue): string[] {
  if (issue.code === "unrecognized_keys") {
    // Unknown keys inside an entry are almost always typos ("reff", "privat"): name each one.
    return issue.keys.map(
      (key) =>
        `${locate(data, [...issue.path, key])}: unknown field (expected one of name, repo, ref, runtime, private, provider)`,
    );
  }
  if (issue.path.length === 0) return [`(top level): ${issue.message}`];
  const where = locate(data, issue.path);
  const value = valueAt(data, issue.path);
  if (value === undefined) return [`${where}: required field is missing (${issue.message})`];
  return [`${where}: ${issue.message}, got ${shown(value)}`];
}

/**
 * Parses and validates manifest text. Every problem is reported at once, each naming the file, the
 * list, the index, the entry's name and the field, so one CI run shows everything to fix.
 */
export function parseManifest(raw: string, file: string): Manifest {
  // An editor's byte order mark is not part of the document (JSON.parse would reject it).
  const text = stripLineComments(stripBom(raw));
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(file, [describeJsonError(text, err)]);
  }
  // JSON.parse lets the last of two equal keys win: a second "plugins": [] would silently erase the first.
  const duplicates = duplicateKeys(text);
  if (duplicates.length > 0) throw new ManifestError(file, duplicates);
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ManifestError(file, ["(top level): expected a JSON object"]);
  }

  const problems: string[] = [];
  // Keys starting with "_" are prose (comments, the pinning contract); anything else unknown is a typo.
  const known = new Set<string>(["version", ...LISTS]);
  const structural: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (key.startsWith("_")) continue;
    if (!known.has(key)) {
      problems.push(
        `${printable(key)}: unknown top-level key (expected version, ${LISTS.join(", ")}, or a "_" comment key)`,
      );
      continue;
    }
    structural[key] = value;
  }

  const result = manifestSchema.safeParse(structural);
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(...describeIssue(structural, issue));
  }

  for (const list of LISTS) {
    const entries = structural[list];
    if (!Array.isArray(entries)) continue;
    const seen = new Map<string, number>();
    entries.forEach((entry, index) => {
      const name = (entry as { name?: unknown } | null)?.name;
      if (typeof name !== "string") return;
      // Equal after normalisation and case folding is equal on a case-insensitive or normalising file system.
      const key = name.normalize("NFKC").toLowerCase();
      const first = seen.get(key);
      if (first === undefined) seen.set(key, index);
      else
        problems.push(
          `${list}[${index}] (${printable(name)}): name: duplicate of ${list}[${first}] (names must be unique within a list, ignoring case and Unicode normalisation)`,
        );
    });
  }

  if (problems.length > 0 || !result.success) throw new ManifestError(file, problems);
  return result.data;
}

/**
 * Every key that appears twice in one object, as "<path>: duplicate key ... (line N, first at line M)".
 * A scan of valid JSON text: strings are skipped whole, so braces or quotes inside them do not count.
 */
export function duplicateKeys(text: string): string[] {
  type Frame =
    | { kind: "object"; keys: Map<string, number>; key?: string; expectKey: boolean }
    | { kind: "array"; index: number };
  const stack: Frame[] = [];
  const problems: string[] = [];
  // Counted as the scan goes (valid JSON has no raw newline inside a string): one pass, whatever the size.
  let line = 1;
  const path = () =>
    stack
      .slice(0, -1)
      .map((f) => (f.kind === "array" ? `[${f.index}]` : `.${printable(f.key ?? "")}`))
      .join("")
      .replace(/^\./, "") || "(top level)";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === "\n") line++;
    else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (top?.kind === "object" && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const first = top.keys.get(key);
        if (first !== undefined) {
          problems.push(
            `${path()}: duplicate key ${printable(JSON.stringify(key))} (line ${line}, first at line ${first})`,
          );
        } else top.keys.set(key, line);
        top.key = key;
        top.expectKey = false;
      }
      i = j;
    } else if (c === "{") stack.push({ kind: "object", keys: new Map(), expectKey: true });
    else if (c === "[") stack.push({ kind: "array", index: 0 });
    else if (c === "}" || c === "]") stack.pop();
    else if (c === ",") {
      if (top?.kind === "object") top.expectKey = true;
      else if (top?.kind === "array") top.index++;
    }
  }
  return problems;
}

/** All entries, in a stable order (list order, then manifest order). */
export function entriesOf(manifest: Manifest): PlannedEntry[] {
  return LISTS.flatMap((list) => manifest[list].map((entry) => ({ ...entry, list })));
}

/** The runtime id a template serves: explicit, else the name without a "-default" suffix. */
export function runtimeOf(entry: ManifestEntry): string {
  return entry.runtime ?? entry.name.replace(/-default$/, "");
}
