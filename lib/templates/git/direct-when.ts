/**
 * When the stager may fetch over HTTP itself (direct-fetch.ts) rather than through `git fetch`: only where
 * git would make the same plain request. A proxy, a custom CA or client certificate, URL rewriting or
 * any other http.* setting is git's to honour, so any of them, in the environment or in the user's git
 * config, leaves every fetch of the run to git.
 */
import { userOnly } from "./env";
import { type GitRun, git } from "./process";

/** Environment variables that change how git (curl) connects. */
const CONNECTION_ENV = /^((https?|all)_proxy|GIT_(SSL|CURL|PROXY|HTTP_PROXY)\w*)$/i;
/** git config keys that do: every http.* and url.* (insteadOf) key, and core.gitProxy. */
const CONNECTION_CONFIG = "^(http|url)\\.|^core\\.gitproxy$";

/** Why a run's fetches must go through git, or undefined when a direct fetch is the same request. */
export function directBlocker(env: NodeJS.ProcessEnv, userConfig: string): string | undefined {
  const variable = Object.keys(env).find((k) => CONNECTION_ENV.test(k) && env[k]);
  if (variable) return `${variable} is set`;
  const key = userConfig.split("\n").find((line) => line.trim() !== "");
  if (key) return `git config sets ${key.split(" ")[0]}`;
  return undefined;
}

const decided = new WeakMap<GitRun, Promise<string | undefined>>();

/**
 * Asked once per run: the user's own config (the run's environment without the entries the stager adds
 * after `userConfigCount`), read by the same git that would fetch and as it would, in `gitDir` (one of
 * the stager's bare repositories): not in the working directory, whose repository's own config (a CI
 * checkout's extraheader, say) git fetch never reads.
 */
export function directBlockerOf(run: GitRun, gitDir: string): Promise<string | undefined> {
  if (run.direct === false) return Promise.resolve("--fetch-with-git");
  let answer = decided.get(run);
  if (!answer) {
    answer = (async () => {
      let config = "";
      try {
        config = (
          await git(["--git-dir", gitDir, "config", "--get-regexp", CONNECTION_CONFIG], userOnly(run))
        ).stdout.toString("utf8");
      } catch (err) {
        // Exit 1 is "no such key": the answer wanted. Anything else: leave it to git.
        if (!/exited 1\b/.test((err as Error).message))
          return `git config could not be read (${(err as Error).message})`;
      }
      return directBlocker(run.env, config);
    })();
    decided.set(run, answer);
  }
  return answer;
}
