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
  /**
   * Images in the repository (ECR: ACTIVE and ARCHIVED; OCI: distinct manifests behind its tags), or, with
   * `imageCountUnit: "tags"`, the number of tags (OCI repositories listing too many tags to resolve each).
   */
  imageCount: number;
  /** Set when imageCount counts tags rather than images: an upper bound of the tagged images. */
  imageCountUnit?: "tags";
  /**
   * Newest push, ignoring the build cache tag's image (it is pushed on every build and would mask a stale
   * image). null when the registry does not record it for some image (OCI config without `created`), or
   * no image was dated. OCI: over the images the backend resolved (every tagged one, or, for a large
   * repository, those behind the requested and latest tags; see lib/drift/oci/backend.ts).
   */
  newestPush: Date | null;
  /** Digest each requested tag points to; a requested tag that is absent is missing from this map. */
  tags: Record<string, string>;
}

export interface RegistryBackend {
  /**
   * `repository` is the path inside the registry (no host); `tags` are bare tag names. `signal` is the
   * check's deadline: once it aborts, every request and wait of the call stops and the call rejects.
   */
  describe(repository: string, tags: string[], signal?: AbortSignal): Promise<RepositoryFacts>;
  /** Every repository path starting with `prefix` (for --scan-prefix). */
  list(prefix: string, signal?: AbortSignal): Promise<string[]>;
}

/** A failure that means "could not check" (auth, network, registry error): exit 2, never ok. */
export class CheckError extends Error {
  override name = "CheckError";
}

export { CACHE_TAG } from "../stack/tags";

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
