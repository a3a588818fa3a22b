/**
 * The drift check's vocabulary, shared by the backends (ECR, OCI), the pure classification and the CLI.
 */

/** One image as the stack recorded it (the `images` stack output). */
export interface ExpectedImage {
  name: string;
  /** Full repository URL: <registry host>/<repository path>. */
  repository: string;
  ref?: string;
  digest: string;
  /** Full references <repository>:<tag>. */
  tags: string[];
}

/** What a backend observed in one repository. Every field is a fact, or absent when unknowable. */
export interface RepositoryFacts {
  exists: boolean;
  /** Images in the repository (ECR: ACTIVE and ARCHIVED; OCI: distinct manifests behind its tags). */
  imageCount: number;
  /**
   * Newest push, ignoring the build cache tag's image (it is pushed on every build and would mask a stale
   * image). null when the registry does not record it for some image (OCI config without `created`).
   */
  newestPush: Date | null;
  /** Digest each requested tag points to; a requested tag that is absent is missing from this map. */
  tags: Record<string, string>;
}

export interface RegistryBackend {
  /** `repository` is the path inside the registry (no host); `tags` are bare tag names. */
  describe(repository: string, tags: string[]): Promise<RepositoryFacts>;
  /** Every repository path starting with `prefix` (for --scan-prefix). */
  list(prefix: string): Promise<string[]>;
}

/** A failure that means "could not check" (auth, network, registry error): exit 2, never ok. */
export class CheckError extends Error {
  override name = "CheckError";
}

export { CACHE_TAG } from "../lifecycle-policy";

export type DriftStatus =
  | "ok"
  | "missing-repository"
  | "empty"
  | "missing-tag"
  | "digest-drift"
  | "stale"
  | "error"
  | "unmanaged";

export interface DriftResult {
  image: string | null;
  repository: string;
  status: DriftStatus;
  detail: string;
  newestPush: string | null;
  imageCount: number | null;
  expectedDigest: string | null;
  actualDigest: string | null;
}
