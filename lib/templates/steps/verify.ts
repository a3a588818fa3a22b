/**
 * The verify step: a fetched commit is staged only if it keeps the pinning contract's third rule (each
 * list's required files, as regular files) and nothing in it reaches outside the entry. Pure; a refusal is
 * a TreeError, permanent, never retried.
 */
import type { ListName } from "../../manifest/contract";
import type { TreeEntry } from "../git/tree-object";
import { checkTree, requiredFileProblems, TreeError } from "../tree";

/** Files each template must have at its pinned commit (the pinning contract's third rule). */
export const REQUIRED_FILES: Record<ListName, readonly string[]> = {
  workspace_templates: ["config.yaml"],
  org_templates: [],
  plugins: [],
};

/** Throws a TreeError naming every problem of the first kind found: required files, then unsafe paths. */
export function verifyCommit(
  list: ListName,
  ref: string,
  files: TreeEntry[],
  links: Map<string, string>,
): void {
  const unusable = requiredFileProblems(files, REQUIRED_FILES[list]);
  if (unusable.length > 0) {
    const missing = unusable.every((p) => p.endsWith(" is missing"));
    throw new TreeError(
      `required file${unusable.length === 1 ? "" : "s"} ${missing ? "missing" : "not a regular file"} at ${ref}: ${unusable.join("; ")}`,
    );
  }
  checkTree(files, links);
}
