/**
 * Where --post posts, and as whom: the forge client and the PR number, from the flags and the environment
 * a CI job has. All of it is checked before any work, so a misconfigured workflow fails at once and says
 * what is missing.
 */
import { readInput } from "../cli/input";
import { UserError } from "../cli/user-error";
import { stripBom } from "../text/bom";
import { ForgeClient, GITEA_ACTIONS_LOGIN, GITHUB_ACTIONS_LOGIN, parseRepository } from "./forge";

export interface PostTarget {
  client: ForgeClient;
  pr: number;
}

/** The PR number from the event payload: pull_request events, or a comment event on a PR. */
async function prFromEvent(eventPath: string | undefined): Promise<number | undefined> {
  if (!eventPath) return undefined;
  const text = await readInput(eventPath, `GITHUB_EVENT_PATH ${eventPath}`);
  let event: Record<string, unknown>;
  try {
    // A byte order mark is not part of the document (JSON.parse would reject it), as for the other inputs.
    event = JSON.parse(stripBom(text)) as Record<string, unknown>;
  } catch {
    throw new UserError(`GITHUB_EVENT_PATH ${eventPath}: not valid JSON`);
  }
  const pr = (event.pull_request as { number?: unknown } | undefined)?.number;
  if (typeof pr === "number") return pr;
  const issue = event.issue as { number?: unknown; pull_request?: unknown } | undefined;
  if (issue?.pull_request && typeof issue.number === "number") return issue.number;
  return undefined;
}

/** Everything --post needs, or the UserError that says what is missing. */
export async function postTarget(
  args: { pr?: string; author?: string },
  io: { env: Record<string, string | undefined>; fetch?: typeof fetch },
): Promise<PostTarget> {
  const token = io.env.GITHUB_TOKEN;
  if (!token) throw new UserError("--post needs GITHUB_TOKEN in the environment");
  const repository = io.env.GITHUB_REPOSITORY;
  if (!repository) throw new UserError("--post needs GITHUB_REPOSITORY (owner/name) in the environment");
  try {
    parseRepository(repository);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  let pr: number | undefined;
  if (args.pr !== undefined) {
    // Digits only, unlike an integer flag: a PR number is what the forge's URLs spell, not "1e3" or "07".
    if (!/^[1-9]\d*$/.test(args.pr)) throw new UserError(`--pr: expected a PR number, got "${args.pr}"`);
    pr = Number(args.pr);
  } else {
    pr = await prFromEvent(io.env.GITHUB_EVENT_PATH);
  }
  if (pr === undefined) {
    throw new UserError("--post needs --pr <number>, or GITHUB_EVENT_PATH holding a pull_request event");
  }
  const author = args.author ?? io.env.PR_REPORT_AUTHOR;
  if (author !== undefined && !author.trim()) throw new UserError("--author: expected a login");
  const client = new ForgeClient({
    apiUrl: io.env.GITHUB_API_URL || "https://api.github.com",
    repository,
    token,
    fetch: io.fetch,
    author,
    fallbackAuthor: io.env.GITEA_ACTIONS === "true" ? GITEA_ACTIONS_LOGIN : GITHUB_ACTIONS_LOGIN,
  });
  return { client, pr };
}
