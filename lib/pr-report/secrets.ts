/**
 * Keeping secrets out of a PR comment. A comment is public to everyone who can read the pull request and
 * lives forever in its edit history, so every value that reaches the report passes through here first.
 *
 * Three nets, because each catches what the others miss:
 * - values Pulumi marks secret: `pulumi preview --json` blinds them to "[secret]", but a state serialised
 *   elsewhere (or by another CLI version) carries the secret envelope `{ <sig key>: <secret sig>, ... }`;
 * - values under keys that look secret (password, token, ...): a provider may not mark them;
 * - the values of named environment variables (the CI tokens), wherever they appear, since a token can be
 *   echoed into a command line, a diagnostic or the `--diff-text` file.
 */

/** The property-map signature key and the secret signature (sdk/go/common/resource/properties.go). */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** What Pulumi itself prints for a blinded secret; the report uses the same word. */
export const REDACTED = "[secret]";

/** Masked even when nobody names them: the tokens CI always has (GitHub/Gitea Actions, private templates). */
export const DEFAULT_MASK_ENV = ["MOLECULE_GITEA_TOKEN", "MOLECULE_GITHUB_TOKEN", "GITHUB_TOKEN"] as const;

// Substrings, not whole words: keys come as `password`, `dbPassword`, `GITHUB_TOKEN`, `x-api-key`.
const SECRET_KEY_RE =
  /password|passwd|passphrase|token|secret|authori[sz]ation|api[-_]?key|private[-_]?key|access[-_]?key|credential|cookie/i;

// `auth` itself (a Docker config entry) and `*_AUTH`/`*-auth` keys, but not `author`.
const AUTH_KEY_RE = /(?:^|[-_.])auth$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key) || AUTH_KEY_RE.test(key);
}

/** The secret envelope as any state serialiser writes it (ciphertext, plaintext or value beside the sig). */
export function isSecretEnvelope(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG
  );
}

/**
 * The base64 of `value` wherever it sits in a longer encoded string (`user:<token>`, `<token>:x-oauth-basic`,
 * a whole config): for each of the three byte alignments, the characters that depend on `value`'s bytes
 * alone, standard and URL-safe. Masking these leaves at most the two or three characters where the token's
 * bits meet its neighbours', whoever the user beside it. Short values give none (a core of a few characters
 * could match by chance).
 */
export function base64Cores(value: string, minLength = 12): string[] {
  const bytes = Buffer.from(value);
  const cores = new Set<string>();
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), bytes]).toString("base64");
    // Character i carries bits [6i, 6i + 6); the value's bytes are bits [8k, 8(k + n)).
    const core = encoded.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
    if (core.length < minLength) continue;
    cores.add(core);
    cores.add(core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...cores];
}

/**
 * The strings to mask: the values of the default variables plus the named ones. Empty values are skipped
 * (masking "" would be meaningless); a value with stray whitespace is masked both as is and trimmed,
 * because a token read from a file often carries a newline that is gone by the time it is echoed.
 */
export function maskValues(env: Record<string, string | undefined>, extraNames: readonly string[] = []) {
  const values = new Set<string>();
  for (const name of new Set([...DEFAULT_MASK_ENV, ...extraNames])) {
    const value = env[name];
    if (!value) continue;
    for (const v of new Set([value, value.trim()])) {
      if (!v) continue;
      values.add(v);
      // The forms a token travels in, whole: the stager's own header (Basic base64("oauth2:<token>"),
      // lib/templates/git/env.ts) and the other usual Basic forms, padded and not, so a header is masked as one.
      for (const form of [v, `oauth2:${v}`, `x-access-token:${v}`, `${v}:x-oauth-basic`, `${v}:`]) {
        const encoded = Buffer.from(form).toString("base64");
        values.add(encoded);
        values.add(encoded.replace(/=+$/, ""));
        values.add(Buffer.from(form).toString("base64url"));
      }
      // And inside any other encoding of it: another user, a whole Docker config.
      for (const core of base64Cores(v)) values.add(core);
    }
  }
  // Longest first, so a value that contains another is masked whole rather than leaving a tail behind.
  return [...values].sort((a, b) => b.length - a.length);
}

// `scheme://user:password@host`: the password part, whoever's it is, up to the last "@" before the host
// (a password with an unescaped "@" is masked whole); quotes and angle brackets end a URL.
const URL_PASSWORD_RE = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@"'<>]*:)[^\s/?#"'<>]+@/gi;

// A value in text: double-quoted (escapes allowed), single-quoted, or a bare word (up to a space, a quote, or
// a separator of lists and query strings).
const VALUE = String.raw`"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s"'&,;<>]+`;
// `KEY=value`, `KEY: value` (env lines, YAML, headers, `pulumi preview --diff` lines with their `=> new`),
// for a key isSecretKey() calls secret. `KEY:value` without a space is not one (it is `scheme:` or `user:`).
const KEYED_RE = new RegExp(
  String.raw`(^|[^A-Za-z0-9_.-])([A-Za-z0-9_.-]*[A-Za-z0-9_])(\s*=\s*|:[ \t]+)((?:(?:basic|bearer|token|digest)[ \t]+)?)(${VALUE})((?:[ \t]*=>[ \t]*)(?:${VALUE}))?`,
  "gim",
);
// `"key": "value"` as JSON, and `\"key\":\"value\"` as JSON inside a JSON string (a Docker config's `auth`).
const JSON_KEYED_RE = /"([^"\\\n]{1,200})"(\s*:\s*)"((?:[^"\\\n]|\\.)*)"/g;
const ESCAPED_JSON_KEYED_RE = /\\"([^"\\\n]{1,200})\\"(\s*:\s*)\\"((?:(?!\\")[^"\n])*)\\"/g;

const blind = (value: string) =>
  value.startsWith('"') ? `"${REDACTED}"` : value.startsWith("'") ? `'${REDACTED}'` : REDACTED;

/** The values under secret-looking keys in free text (see isSecretKey): what the key rules do for JSON. */
function maskKeyed(text: string): string {
  return text
    .replace(ESCAPED_JSON_KEYED_RE, (all, key: string, sep: string) =>
      isSecretKey(key) ? `\\"${key}\\"${sep}\\"${REDACTED}\\"` : all,
    )
    .replace(JSON_KEYED_RE, (all, key: string, sep: string) =>
      isSecretKey(key) ? `"${key}"${sep}"${REDACTED}"` : all,
    )
    .replace(
      KEYED_RE,
      (all, before: string, key: string, sep: string, scheme: string, value: string, arrow?: string) => {
        if (!isSecretKey(key)) return all;
        const next = arrow ? arrow.replace(new RegExp(`(${VALUE})$`), (v) => blind(v)) : "";
        return `${before}${key}${sep}${scheme}${blind(value)}${next}`;
      },
    );
}

/**
 * Replaces every occurrence of every mask value (plain split/join: a token may hold regex characters), any
 * URL password, and any value under a secret-looking key (a Docker config's `auth`, `NPM_AUTH=`,
 * `password:`), known in advance or not.
 */
export function maskText(text: string, masks: readonly string[]): string {
  let out = maskKeyed(text.replace(URL_PASSWORD_RE, `$1${REDACTED}@`));
  for (const mask of masks) if (mask && out.includes(mask)) out = out.split(mask).join(REDACTED);
  return out;
}

/**
 * A deep copy of a property value with every secret blinded: envelopes, values under secret-looking keys
 * (whatever their type: an object under `secrets` goes whole), and mask values inside any string.
 */
export function redactValue(value: unknown, masks: readonly string[], key?: string): unknown {
  if (value === null || value === undefined) return value;
  if (key !== undefined && isSecretKey(key)) return REDACTED;
  if (isSecretEnvelope(value)) return REDACTED;
  if (typeof value === "string") return maskText(value, masks);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, masks));
  if (typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactValue(v, masks, k)]),
    );
  }
  return value;
}

/**
 * Masks the env values in every string of a structure without judging keys: for the parts of the preview
 * that are structure (URNs, diff paths, diagnostics), where a key-based rule would destroy the shape.
 */
export function maskStrings<T>(value: T, masks: readonly string[]): T {
  if (typeof value === "string") return maskText(value, masks) as T;
  if (Array.isArray(value)) return value.map((item) => maskStrings(item, masks)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, maskStrings(v, masks)]),
    ) as T;
  }
  return value;
}
