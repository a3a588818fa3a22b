/** The OCI distribution backend of the drift check; see backend.ts for what it can know, and how. */
export { parseChallenges } from "./auth";
export {
  isLatestTag,
  MAX_LATEST_TAGS,
  OCI_DEFAULTS,
  OciBackend,
  type OciBackendOptions,
  RESOLVE_ALL_MAX_TAGS,
} from "./backend";
export { isLoopback } from "./loopback";
export { MANIFEST_ACCEPT } from "./media-types";
