import { describe, expect, it } from "vitest";
import { networkFloor } from "./floor";

describe("networkFloor", () => {
  it("adds the latency shared by the concurrency, the bytes over the bandwidth, and the start-up", () => {
    const f = networkFloor({
      requests: 62,
      bytesOut: 2 * 1024 * 1024,
      concurrency: 8,
      latencyMs: 30,
      bandwidthBytesPerSec: 10 * 1024 * 1024,
      startupMs: 500,
    });
    expect(f.latencyPartMs).toBeCloseTo(232.5);
    expect(f.bandwidthPartMs).toBeCloseTo(200);
    expect(f.totalMs).toBeCloseTo(932.5);
  });
  it("treats a concurrency below 1 as serial", () => {
    const f = networkFloor({
      requests: 2,
      bytesOut: 0,
      concurrency: 0,
      latencyMs: 30,
      bandwidthBytesPerSec: 1,
      startupMs: 0,
    });
    expect(f.totalMs).toBe(60);
  });
});
