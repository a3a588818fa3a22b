/** The backend follows the repository host; there is no flag for it. */
import type * as Ecr from "./ecr";
import { parseEcrHost } from "./ecr-host";
import { OciBackend } from "./oci";
import type { RegistryBackend } from "./types";

export function backendFor(host: string): RegistryBackend {
  const ecr = parseEcrHost(host);
  if (!ecr) return new OciBackend(host);
  // Loaded only for an ECR host: @aws-sdk/client-ecr is most of what `drift` and `local` load at start.
  const { EcrBackend } = require("./ecr") as typeof Ecr;
  return new EcrBackend(ecr);
}
