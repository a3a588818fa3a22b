import { describe, expect, it } from "vitest";
import { backoffMs, retry, totalBackoffMs } from "./retry";

const failing = (failures: number, value = "ok") => {
  let calls = 0;
  return {
    fn: async (n: number) => {
      calls++;
      if (n <= failures) throw new Error(`try ${n}`);
      return value;
    },
    calls: () => calls,
  };
};

describe("retry", () => {
  it("retries a retryable failure until a try succeeds, with doubling delays", async () => {
    const waits: number[] = [];
    const f = failing(2);
    const got = await retry(f.fn, {
      attempts: 3,
      baseDelayMs: 1,
      retryable: () => true,
      onRetry: (_e, _n, d) => waits.push(d),
    });
    expect(got).toBe("ok");
    expect(f.calls()).toBe(3);
    expect(waits).toEqual([1, 2]);
  });

  it("throws the last error as it is once the tries run out", async () => {
    const f = failing(5);
    await expect(retry(f.fn, { attempts: 3, baseDelayMs: 0, retryable: () => true })).rejects.toThrow(
      "try 3",
    );
    expect(f.calls()).toBe(3);
  });

  it("gives up at once on a failure that is not retryable", async () => {
    const f = failing(5);
    await expect(retry(f.fn, { attempts: 9, baseDelayMs: 0, retryable: () => false })).rejects.toThrow(
      "try 1",
    );
    expect(f.calls()).toBe(1);
  });

  it("waits what the server asked for instead of the backoff", async () => {
    const waits: number[] = [];
    await retry(failing(1).fn, {
      attempts: 2,
      baseDelayMs: 10_000,
      retryable: () => ({ afterMs: 3 }),
      onRetry: (_e, _n, d) => waits.push(d),
    });
    expect(waits).toEqual([3]);
  });

  it("stops sleeping when aborted, with the signal's reason", async () => {
    const abort = new AbortController();
    const started = Date.now();
    const run = retry(failing(5).fn, {
      attempts: 5,
      baseDelayMs: 60_000,
      signal: abort.signal,
      retryable: () => true,
    });
    setTimeout(() => abort.abort(new Error("deadline")), 20);
    await expect(run).rejects.toThrow("deadline");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("spreads jittered delays within ±25 %", async () => {
    const waits: number[] = [];
    await retry(failing(4).fn, {
      attempts: 5,
      baseDelayMs: 4,
      jitter: true,
      retryable: () => true,
      onRetry: (_e, n, d) => waits.push(d / backoffMs(n, 4)),
    });
    expect(waits).toHaveLength(4);
    for (const w of waits) {
      expect(w).toBeGreaterThanOrEqual(0.75);
      expect(w).toBeLessThanOrEqual(1.25);
    }
  });

  it("bounds the total wait", () => {
    expect(totalBackoffMs(1, 500)).toBe(0);
    expect(totalBackoffMs(4, 500)).toBe(500 + 1000 + 2000);
  });
});
