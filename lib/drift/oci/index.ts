/** The OCI distribution backend of the drift check; see backend.ts for what it can know, and how. */
export {
  isLatestTag,
  isLoopback,
  MAX_LATEST_TAGS,
  nextLink,
  OCI_DEFAULTS,
  OciBackend,
  type OciBackendOptions,
  parseChallenges,
  RESOLVE_ALL_MAX_TAGS,
} from "./backend";
export { MANIFEST_ACCEPT } from "./media-types";
