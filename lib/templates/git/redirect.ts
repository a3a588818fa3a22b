/**
 * The same-host redirect rule: the token's header goes with every request git makes, so git itself never
 * follows a redirect from a token's origin; the stager asks where it points (without the token) and
 * follows it only within the same origin.
 */
import { GitError, redactUrl } from "./failure";
import type { GitRun } from "./process";

/**
 * `-c http.<url>/.followRedirects=false` for a fetch from a token's origin. git picks an http.<url>.*
 * setting by how specific its URL is (host, then path length, then user), and a command-line `-c` comes
 * after every config file and GIT_CONFIG_PARAMETERS it inherits: the exact URL git matches (with the
 * trailing slash git adds, the user but never the password) cannot be outranked, so no configuration
 * can make git carry the token's header to wherever a redirect points.
 */
export function noRedirectArgs(url: string, run: GitRun): string[] {
  if (!run.tokenOrigins?.length || !/^https?:\/\//i.test(url)) return [];
  const u = new URL(url);
  if (!run.tokenOrigins.includes(u.origin)) return [];
  const user = u.username ? `${u.username}@` : "";
  const path = u.pathname.endsWith("/") ? u.pathname : `${u.pathname}/`;
  return ["-c", `http.${u.protocol}//${user}${u.host}${path}.followRedirects=false`];
}

const REDIRECTED = /returned error: 30[12378]\b/;

/** A git failure that is a redirect git did not follow (see noRedirectArgs). */
export const isRedirect = (err: unknown): err is GitError =>
  err instanceof GitError && REDIRECTED.test(err.stderr);

/**
 * Where a redirecting git URL points, asked without the token. A redirect within the same origin (scheme,
 * host and port) is followed; one to another host is a failure, and the token is never sent there. The
 * question is bounded like any git operation: by the inactivity bound (a server that redirects and then
 * falls silent must not hold the entry longer than one that is silent from the start).
 */
export async function sameOriginRedirect(url: string, timeoutMs: number): Promise<string> {
  const probe = `${url}/info/refs?service=git-upload-pack`;
  let res: Response;
  try {
    res = await fetch(probe, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new GitError(
      `${redactUrl(url)} redirects, and asking where failed: ${(err as Error).message}`,
      "transient",
    );
  }
  await res.body?.cancel();
  const location = res.headers.get("location");
  const target = location ? new URL(location, probe) : undefined;
  if (!target) throw new GitError(`${redactUrl(url)} answers ${res.status} without a Location`, "transient");
  if (target.origin !== new URL(url).origin) {
    throw new GitError(
      `${redactUrl(url)} redirects to ${target.origin}, another host: not followed, so the token is not sent there`,
      "redirect",
    );
  }
  return target.href.replace(/\/info\/refs\?service=git-upload-pack$/, "").replace(/\/$/, "");
}
