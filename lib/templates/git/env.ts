/**
 * The environment every git child gets, and the tokens in it. Each token travels as an
 * `http.<origin>/.extraHeader` set through GIT_CONFIG_COUNT/KEY/VALUE: it is then in no argv, no URL and no
 * .git/config, and git sends it only to URLs of its own origin (scheme, host and port all match).
 */
import { redactUrl } from "./failure";
import { DEFAULT_INACTIVITY_S, type GitRun } from "./process";

export interface GitAuth {
  /** Base URL the token belongs to; the header is scoped to it so it never goes to another host. */
  baseUrl: string;
  token: string;
  /** The Basic user name sent with the token: "oauth2" (Gitea, the default) or "x-access-token" (GitHub). */
  user?: string;
}

// Variables that would make git print secrets (curl traces) or act on a repository other than ours, and
// the raw tokens themselves: git gets them only as headers, and no child needs the variables.
const SCRUBBED_ENV =
  /^(MOLECULE_GITEA_TOKEN|MOLECULE_GITHUB_TOKEN|GIT_TRACE.*|GIT_CURL_VERBOSE|GIT_TRACE_REDACT|GIT_DIR|GIT_WORK_TREE|GIT_INDEX_FILE|GIT_OBJECT_DIRECTORY|GIT_ALTERNATE_OBJECT_DIRECTORIES|GIT_NAMESPACE|GIT_CEILING_DIRECTORIES)$/;

/** `base` without what SCRUBBED_ENV names, and with git's bounds and config appended (see the header). */
export function gitEnv(
  base: NodeJS.ProcessEnv,
  auths: readonly GitAuth[] = [],
  inactivitySeconds = DEFAULT_INACTIVITY_S,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) if (!SCRUBBED_ENV.test(key)) env[key] = value;
  env.GIT_TERMINAL_PROMPT = "0"; // a prompt would hang a CI job forever
  env.GCM_INTERACTIVE = "never";
  env.GIT_ASKPASS = "true"; // answer any credential question with nothing instead of blocking
  env.SSH_ASKPASS = "true";
  env.LC_ALL = "C"; // stderr is classified by its English text
  // The inactivity bound on every HTTP transfer: git (curl) gives up when less than 1 byte a second arrives
  // for this long, so a server that accepts and never answers, or trickles, fails instead of hanging.
  env.GIT_HTTP_LOW_SPEED_LIMIT = "1";
  env.GIT_HTTP_LOW_SPEED_TIME = String(Math.max(1, Math.ceil(inactivitySeconds)));
  const config: Array<[string, string]> = [
    ["gc.auto", "0"],
    ["maintenance.auto", "false"],
    ["fetch.writeCommitGraph", "false"],
    ["protocol.version", "2"],
    // Keep a fetched pack as one file: exploding a small pack into loose objects is a file per object.
    ["fetch.unpackLimit", "1"],
    ["transfer.unpackLimit", "1"],
  ];
  for (const [origin, auth] of tokenOrigins(auths)) {
    // Scoped to the host (origin) the token belongs to, so it also covers a same-host redirect's new path.
    config.push([`http.${origin}/.extraHeader`, `Authorization: ${basicAuth(auth)}`]);
    // git loads the header for the URL it was given and sends it on every request, including those that go
    // to wherever a redirect pointed: for the token's host, git follows no redirect; fetchCommit decides
    // (same origin only). Every fetch also pins this for its exact URL (noRedirectArgs): a more specific
    // http.<url>.followRedirects in the caller's config would outrank this one.
    config.push([`http.${origin}/.followRedirects`, "false"]);
  }
  // Append to, never replace, config the caller already passes this way.
  const existing = Number(env.GIT_CONFIG_COUNT ?? "0") || 0;
  config.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${existing + i}`] = key;
    env[`GIT_CONFIG_VALUE_${existing + i}`] = value;
  });
  env.GIT_CONFIG_COUNT = String(existing + config.length);
  return env;
}

/** The Authorization header value git sends for `auth`. */
const basicAuth = (auth: GitAuth) =>
  `Basic ${Buffer.from(`${auth.user ?? "oauth2"}:${auth.token}`).toString("base64")}`;

/**
 * The origin (scheme://host[:port]) each token belongs to, for http(s) base URLs only. Two different tokens
 * for one origin are refused: git would send both headers to it, and each to the other's repositories.
 */
function tokenOrigins(auths: readonly GitAuth[]): Map<string, GitAuth> {
  const byOrigin = new Map<string, GitAuth>();
  for (const auth of auths) {
    if (!/^https?:\/\//i.test(auth.baseUrl)) continue;
    const origin = new URL(auth.baseUrl).origin;
    const other = byOrigin.get(origin);
    if (other && (other.token !== auth.token || other.user !== auth.user))
      throw new GitAuthConflict(`two tokens for one host (${redactUrl(origin)}): give each host its own`);
    byOrigin.set(origin, auth);
  }
  return byOrigin;
}

/** Two tokens were given for one host. */
export class GitAuthConflict extends Error {
  override name = "GitAuthConflict";
}

/** The GitRun for a stage: git's environment, the tokens' origins, the bounds. */
export function gitRun(opts: {
  base: NodeJS.ProcessEnv;
  auths?: readonly GitAuth[];
  inactivityS?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** false: every fetch through `git fetch` (--fetch-with-git). */
  direct?: boolean;
}): GitRun {
  const inactivityS = opts.inactivityS ?? DEFAULT_INACTIVITY_S;
  const byOrigin = tokenOrigins(opts.auths ?? []);
  return {
    env: gitEnv(opts.base, opts.auths, inactivityS),
    timeoutMs: opts.timeoutMs ?? 600_000,
    inactivityS,
    tokenOrigins: [...byOrigin.keys()],
    authorizationFor: (origin) => {
      const auth = byOrigin.get(origin);
      return auth && basicAuth(auth);
    },
    userConfigCount: Number(opts.base.GIT_CONFIG_COUNT ?? "0") || 0,
    direct: opts.direct ?? true,
    signal: opts.signal,
  };
}

/**
 * The run with only the caller's own git config: without what the stager adds (its tokens' headers
 * among it), for a git that needs none of it.
 */
export function userOnly(run: GitRun): GitRun {
  const own = run.userConfigCount ?? 0;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(run.env)) {
    const n = /^GIT_CONFIG_(KEY|VALUE)_(\d+)$/.exec(key)?.[2];
    if (n === undefined || Number(n) < own) env[key] = value;
  }
  env.GIT_CONFIG_COUNT = String(own);
  return { ...run, env };
}
