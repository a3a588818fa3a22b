/** The OCI distribution backend of the drift check; see backend.ts for what it can know, and how. */
export { parseChallenges } from "./auth";
export { OCI_DEFAULTS, OciBackend, type OciBackendOptions } from "./backend";
export { isLoopback } from "./loopback";
export { MANIFEST_ACCEPT } from "./media-types";
export { isLatestTag, MAX_LATEST_TAGS, RESOLVE_ALL_MAX_TAGS } from "./plan";
