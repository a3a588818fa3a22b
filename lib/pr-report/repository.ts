/**
 * Which repository an image pushes to, read from its first tag: the graph labels nodes with it, and a
 * rebuild whose repository moved says so instead of "tags changed". Pure.
 */
import type { ResourceState } from "./preview";

const DIGEST_RE = /@sha256:[0-9a-f]{64}$/;

/** `host:5000/org/name:tag` → `org/name`: the registry host is the same for every image, so it is noise. */
export function repositoryOf(tag: unknown): string | undefined {
  if (typeof tag !== "string") return undefined;
  const ref = tag.replace(DIGEST_RE, "");
  if (!/^[\w.:/-]+$/.test(ref)) return undefined;
  const path = ref.replace(/:[\w.-]+$/, "");
  const [first, ...rest] = path.split("/");
  // Docker's rule: a first segment with a dot or a colon, or `localhost`, is a registry host.
  const isHost = rest.length > 0 && (/[.:]/.test(first ?? "") || first === "localhost");
  return isHost ? rest.join("/") : path;
}

/** The repository of a state's first tag input, when it is a known string. */
export function repositoryOfState(state: ResourceState | undefined): string | undefined {
  const tags = state?.inputs?.tags;
  return Array.isArray(tags) ? repositoryOf(tags[0]) : undefined;
}

/** `{ from, to }` when the image's repository moved between the old and the new state. */
export function repositoryMove(
  oldState: ResourceState | undefined,
  newState: ResourceState | undefined,
): { from: string; to: string } | undefined {
  const from = repositoryOfState(oldState);
  const to = repositoryOfState(newState);
  return from && to && from !== to ? { from, to } : undefined;
}
