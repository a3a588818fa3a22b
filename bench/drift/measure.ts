/**
 * One timed drift check, as `npm run drift` runs it: a fresh backend (each CLI run is a fresh process)
 * behind a fresh listener of the remote registry (so no run reuses another's connections, and the peak of
 * requests in flight is this run's alone).
 */
import { checkDrift } from "../../lib/drift/check";
import { OciBackend } from "../../lib/drift/oci";
import type { RemoteMode } from "./remote";
import type { Remote } from "./remote-host";
import type { Expected } from "./seed";

export interface Measured {
  ms: number;
  requests: number;
  peakInFlight: number;
  /** The check's own CPU (this process; the proxy and the registry run in others). */
  cpuMs: number;
}

export interface Setup {
  remote: Remote;
  mode: RemoteMode;
  /** The backend's limit of requests in flight to the registry. */
  maxInFlight: number;
}

/** Checks `expected` with `concurrency` repositories at once; throws unless every one is ok. */
export async function measureCheck(
  setup: Setup,
  expected: Expected[],
  concurrency: number,
): Promise<Measured> {
  const host = await setup.remote.open(setup.mode);
  let closed = false;
  try {
    // The Docker config is only read on an auth challenge, which this registry never sends.
    const backend = new OciBackend(host, { maxInFlight: setup.maxInFlight });
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const results = await checkDrift(
      expected.map((e) => {
        const repository = `${host}/${e.repository}`;
        const digest = e.facts.tags["staging-latest"] as string;
        return { name: e.repository, repository, digest, tags: [`${repository}:staging-latest`] };
      }),
      { maxAgeDays: 14, concurrency, backendFor: () => backend },
    );
    const ms = performance.now() - start;
    const cpu = process.cpuUsage(cpu0);
    const served = await setup.remote.close();
    closed = true;
    const notOk = results.filter((r) => r.status !== "ok");
    if (notOk.length > 0) throw new Error(`expected all ok, got ${JSON.stringify(notOk[0])}`);
    return {
      ms,
      requests: served.requests,
      peakInFlight: served.peakInFlight,
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
  } finally {
    if (!closed) await setup.remote.close();
  }
}
