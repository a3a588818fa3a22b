// What a registry sees when the drift check runs many repositories at once: never more requests in
// flight than the OCI backend's cap, however many repositories and per-describe() requests there are.
// A real registry (CNCF distribution 2.8.2) behind a loopback proxy adding latency, so requests overlap.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDrift, DEFAULT_DRIFT_CONCURRENCY } from "../../lib/drift/check";
import { OCI_DEFAULTS, OciBackend } from "../../lib/drift/oci";
import { CACHE_TAG } from "../../lib/drift/types";
import {
  assertRegistryInstalled,
  type LocalRegistry,
  pushCacheImage,
  pushImage,
  startProxy,
  startRegistry,
} from "../support/oci-registry";

const REPOS = 24;
let registry: LocalRegistry;
let tmp: string;
const digests: string[] = [];

beforeAll(async () => {
  // Fails the file (never skips it) with the install command when the binary is absent.
  assertRegistryInstalled();
  registry = await startRegistry();
  tmp = await mkdtemp(path.join(os.tmpdir(), "drift-in-flight-test-"));
  for (let i = 0; i < REPOS; i++) {
    // Four tags each: a describe() alone would keep its 4 request slots busy.
    const tags = ["staging-latest", "a", "b", "c"];
    const img = await pushImage(registry.url, `molecule-ai/svc-${i}`, {
      tags,
      created: new Date().toISOString(),
    });
    digests.push(img.digest);
    // Resolved by HEAD: each must leave its connection open for the next request.
    await pushCacheImage(registry.url, `molecule-ai/svc-${i}`, CACHE_TAG);
  }
});

afterAll(async () => {
  await registry?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const images = (host: string) =>
  digests.map((digest, i) => ({
    name: `svc-${i}`,
    repository: `${host}/molecule-ai/svc-${i}`,
    digest,
    tags: [`${host}/molecule-ai/svc-${i}:staging-latest`],
  }));

async function check(maxInFlight: number | undefined) {
  const via = await startProxy({ target: registry.url, latencyMs: 30 });
  try {
    const dockerConfigPath = path.join(tmp, "absent", "config.json");
    const backend = new OciBackend(via.host, { dockerConfigPath, maxInFlight });
    const results = await checkDrift(images(via.host), { maxAgeDays: 14, backendFor: () => backend });
    return {
      statuses: new Set(results.map((r) => r.status)),
      peak: via.maxInFlight,
      requests: via.requests.length,
      connections: via.connections,
    };
  } finally {
    await via.close();
  }
}

describe("requests in flight to one registry", () => {
  it("the defaults let more repositories run at once than the registry sees requests", () => {
    expect(DEFAULT_DRIFT_CONCURRENCY * OCI_DEFAULTS.concurrency).toBeGreaterThan(OCI_DEFAULTS.maxInFlight);
  });

  it("never exceeds maxInFlight across every repository checked at once, and every answer is still right", async () => {
    const { statuses, peak } = await check(5);
    expect(statuses).toEqual(new Set(["ok"]));
    expect(peak).toBeLessThanOrEqual(5);
    // The cap is what bounds it: the check did have more to send at once.
    expect(peak).toBe(5);
  });

  it("opens no more connections than requests in flight, and keeps them across requests, HEAD included", async () => {
    const { statuses, requests, connections } = await check(5);
    expect(statuses).toEqual(new Set(["ok"]));
    expect(requests).toBeGreaterThan(REPOS * 6);
    expect(connections).toBeLessThanOrEqual(5);
  });

  it("by default stays within OCI_DEFAULTS.maxInFlight", async () => {
    const { statuses, peak } = await check(undefined);
    expect(statuses).toEqual(new Set(["ok"]));
    expect(peak).toBeLessThanOrEqual(OCI_DEFAULTS.maxInFlight);
  });
});
