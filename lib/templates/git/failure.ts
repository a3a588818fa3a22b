/**
 * What a failed git command means: a kind that decides whether it is worth another try, and a message that
 * explains it without progress noise or credentials. Pure, so every rule is tested as data.
 */

export type GitFailureKind =
  | "missing-repo" // permanent: the repository does not exist (or is invisible to us)
  | "missing-ref" // permanent: the commit is not in the repository
  | "auth" // permanent: credentials missing or rejected
  | "refused" // the server will not serve an unadvertised SHA; use the fallback fetch
  | "redirect" // permanent: the host redirects to another host, where the token must not go
  | "transient"; // network, server error, killed process: worth retrying

export class GitError extends Error {
  constructor(
    message: string,
    readonly kind: GitFailureKind,
    readonly stderr = "",
    /** Killed by the inactivity bound: the server said nothing at all for that long. */
    readonly silent = false,
  ) {
    super(message);
    this.name = "GitError";
  }
}

/** Decides whether a failed git command is worth retrying. Unknown failures count as transient. */
export function classifyGitFailure(stderr: string): GitFailureKind {
  if (/does not allow request for unadvertised object/i.test(stderr)) return "refused";
  if (/not our ref|couldn't find remote ref|no such remote ref|unable to find [0-9a-f]{40}/i.test(stderr)) {
    return "missing-ref";
  }
  if (
    /Authentication failed|could not read (Username|Password)|returned error: 40[13]\b|\b40[13] (Unauthorized|Forbidden)/i.test(
      stderr,
    )
  ) {
    return "auth";
  }
  if (
    /repository '.*' not found|does not appear to be a git repository|Repository not found|returned error: 404\b/i.test(
      stderr,
    )
  ) {
    return "missing-repo";
  }
  return "transient";
}

/** Hides userinfo in URLs so a credential someone put in --git-base-url never reaches a log. */
export function redactUrl(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, "$1***@");
}

/** Drops git's progress meter lines, keeping what explains a failure. */
export function withoutProgress(stderr: string): string {
  return stderr
    .split(/[\r\n]+/)
    .filter(
      (line) =>
        line.trim() !== "" &&
        !/^(remote: )?[A-Za-z][A-Za-z ]*: +\d+% \(\d+\/\d+\)|^(remote: )?(Enumerating|Counting|Compressing|Total) /.test(
          line,
        ),
    )
    .join("\n");
}

/**
 * The error for a git that ended unsuccessfully: its last three lines of explanation, redacted, and its
 * kind. A killed git (OOM killer, timeout) is the textbook transient failure, whatever it printed.
 */
export function exitFailure(
  command: string,
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): GitError {
  const how = signal ? `was killed (${signal})` : `exited ${code}`;
  const detail = redactUrl(withoutProgress(stderr).trim().split("\n").slice(-3).join(" | "));
  const kind = signal ? "transient" : classifyGitFailure(stderr);
  return new GitError(`${command} ${how}${detail ? `: ${detail}` : ""}`, kind, stderr);
}
