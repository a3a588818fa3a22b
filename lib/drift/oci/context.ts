/**
 * A request's context: which step of which operation it serves, so that a failure can say so, and the
 * signals it obeys. Every failure is a CheckError naming the registry, the repository and the step.
 */
import { CheckError } from "../types";
import { describeErrors } from "./body";

/** The signals a request obeys. */
export interface Io {
  /** Aborts this operation's requests (the first failure of a describe(), or the caller's deadline). */
  signal: AbortSignal;
  /** The caller's signal alone, for work shared between operations (a token fetch). */
  shared: AbortSignal;
}

/** What a request is for, so failures can say so. */
export interface Ctx extends Io {
  repository?: string;
  what: string;
}

/** A signal that never aborts: the default when the caller gives none. */
export const NEVER = new AbortController().signal;

/** Aborts `to` when `from` aborts (at once if it already has); returns the undo, to call when done. */
export function follow(from: AbortSignal | undefined, to: AbortController): () => void {
  if (!from) return () => {};
  if (from.aborted) {
    to.abort(from.reason);
    return () => {};
  }
  const onAbort = () => to.abort(from.reason);
  from.addEventListener("abort", onAbort, { once: true });
  return () => from.removeEventListener("abort", onAbort);
}

export function failure(host: string, ctx: Pick<Ctx, "repository" | "what">, reason: string): CheckError {
  const where = ctx.repository ? `, repository ${ctx.repository}` : "";
  return new CheckError(`OCI registry ${host}${where}: ${ctx.what}: ${reason}`);
}

/** An answer whose status the step did not expect, with the registry's error codes if it sent any. */
export function statusFailure(host: string, reply: { status: number; body: Buffer }, ctx: Ctx): CheckError {
  const hint = reply.status === 403 ? " (access denied)" : "";
  return failure(host, ctx, `unexpected HTTP ${reply.status}${hint}${describeErrors(reply.body)}`);
}

/** Whatever went wrong, the caller gets "could not check", never an ok built on a partial answer. */
export function unexpectedFailure(
  host: string,
  err: unknown,
  repository: string | undefined,
  what: string,
): CheckError {
  if (err instanceof CheckError) return err;
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return failure(host, { repository, what }, `unexpected failure: ${reason}`);
}
