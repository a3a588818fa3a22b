/** Which hosts are ECR registries, apart from the ECR backend, so telling needs no AWS SDK loaded. */

/** `<12-digit account>.dkr.ecr.<region>.amazonaws.com`, or `.amazonaws.com.cn` for the China partition. */
const ECR_HOST = /^(\d{12})\.dkr\.ecr\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com(?:\.cn)?$/;

/** The registry an ECR image URL's host names; undefined for any other registry (which the OCI backend serves). */
export function parseEcrHost(host: string): { registryId: string; region: string } | undefined {
  // Hostnames are case-insensitive; a repository URL typed by hand may not be lowercase.
  const m = ECR_HOST.exec(host.toLowerCase());
  if (!m?.[1] || !m[2]) return undefined;
  return { registryId: m[1], region: m[2] };
}
