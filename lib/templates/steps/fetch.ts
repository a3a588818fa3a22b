/**
 * The fetch step: the entry's pinned commit into its private bare repository, retried (from an empty
 * repository each time) only for failures git calls transient, with the doubling delay of lib/retry.
 */
import { rmSync } from "node:fs";
import type { PlannedEntry } from "../../manifest/contract";
import { retry } from "../../retry/retry";
import { GitError, redactUrl } from "../git/failure";
import { fetchCommit, initBare } from "../git/fetch";
import type { Progress } from "../progress";
import { labelOf } from "../result";
import type { StagePlan } from "./plan";
import { tokenVariableOf } from "./private";

/** What a failure means for this entry, in the terms of its manifest line; `attempts` is the tries made. */
export function describeFailure(err: unknown, entry: PlannedEntry, url: string, attempts: number): string {
  if (err instanceof GitError) {
    const shown = redactUrl(url);
    switch (err.kind) {
      case "missing-repo":
        return `repository ${shown} not found`;
      case "missing-ref":
        return `commit ${entry.ref} does not exist in ${entry.repo} (${err.message})`;
      case "redirect":
        return err.message;
      case "auth":
        return `access to ${shown} was refused${entry.private ? ` (private: is ${tokenVariableOf(entry)} set and allowed to read it?)` : ""}: ${err.message}`;
      default:
        return `gave up after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${err.message}`;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

const transient = (err: unknown) => err instanceof GitError && err.kind === "transient";

/**
 * An entry whose every try ended with its host saying nothing for the inactivity bound. The run then gives
 * up on that host (steps/entry.ts): its other entries would each wait as long, and at the default
 * concurrency the real manifest's 31 entries took over 6 minutes to fail against a silent server.
 */
export class SilentHostError extends Error {
  override name = "SilentHostError";
}

/** Fetches the entry's commit into `gitDir`; a failure is thrown as an Error saying what it means. */
export async function fetchEntry(
  entry: PlannedEntry,
  url: string,
  gitDir: string,
  plan: Pick<StagePlan, "attempts" | "retryDelayMs" | "run">,
  progress: Progress,
): Promise<void> {
  const label = labelOf(entry);
  let tries = 0;
  let silentTries = 0;
  try {
    const outcome = await retry(
      async (attempt) => {
        tries = attempt;
        rmSync(gitDir, { recursive: true, force: true });
        initBare(gitDir);
        try {
          return await fetchCommit(gitDir, url, entry.ref, plan.run);
        } catch (err) {
          if (err instanceof GitError && err.silent) silentTries++;
          throw err;
        }
      },
      {
        // Whole tries: a fractional count tries as often as the next whole number.
        attempts: Math.ceil(plan.attempts),
        baseDelayMs: plan.retryDelayMs,
        retryable: transient,
        onRetry: (err, attempt, delay) =>
          progress.note(
            `${label}: attempt ${attempt} failed (${(err as Error).message}); retrying in ${delay} ms`,
          ),
      },
    );
    if (outcome.fallback) {
      progress.warn(
        `${label}: ${redactUrl(url)} refused a fetch by SHA; fetched branch and tag history to depth ${outcome.fallback.depth} instead`,
      );
    }
  } catch (err) {
    const message = describeFailure(err, entry, url, tries);
    if (tries > 0 && silentTries === tries) throw new SilentHostError(message);
    throw new Error(message);
  }
}
