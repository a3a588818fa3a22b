/** The backend follows the repository host; there is no flag for it. */
import { EcrBackend, parseEcrHost } from "./ecr";
import { OciBackend } from "./oci";
import type { RegistryBackend } from "./types";

export function backendFor(host: string): RegistryBackend {
  const ecr = parseEcrHost(host);
  return ecr ? new EcrBackend(ecr) : new OciBackend(host);
}
