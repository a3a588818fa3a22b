/**
 * The network floor of a cold run: what the emulated network alone costs, however fast the stager is.
 * Each request waits the added latency (shared by `concurrency` at once), every byte passes the shared
 * bandwidth cap, and the CLI has to start; the cold goal is a ratio to this, not to an absolute time.
 */
export interface FloorInput {
  /** Requests and bytes the server saw during the cold run (median run). */
  requests: number;
  bytesOut: number;
  concurrency: number;
  latencyMs: number;
  bandwidthBytesPerSec: number;
  startupMs: number;
}

export interface Floor {
  latencyPartMs: number;
  bandwidthPartMs: number;
  startupMs: number;
  totalMs: number;
}

export function networkFloor(i: FloorInput): Floor {
  const latencyPartMs = (i.requests * i.latencyMs) / Math.max(1, i.concurrency);
  const bandwidthPartMs = (i.bytesOut / i.bandwidthBytesPerSec) * 1000;
  return {
    latencyPartMs,
    bandwidthPartMs,
    startupMs: i.startupMs,
    totalMs: latencyPartMs + bandwidthPartMs + i.startupMs,
  };
}
