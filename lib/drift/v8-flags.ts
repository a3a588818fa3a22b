/**
 * The V8 flags every command that runs the drift check starts Node with (package.json's `drift`,
 * `local`, `local:drift` and `bench:drift` scripts; a unit test holds them to this list, and bench:drift
 * refuses to measure without them). 128 requests in flight keep their sockets, requests and buffers alive
 * through every scavenge of V8's young generation, which copies them each time: bench:drift saw 2-4
 * scavenges of 8-10 ms per 50-repository check at the default 16 MiB, 0-1 at 32 MiB, and about 10 % less
 * CPU. V8 reads the flag only when the heap is set up, so it cannot be set from inside the program.
 */
export const DRIFT_V8_FLAGS = ["--max-semi-space-size=32"] as const;

/** The scripts that run the drift check, each of which must start Node with DRIFT_V8_FLAGS. */
export const DRIFT_SCRIPTS = ["drift", "local", "local:drift", "bench:drift"] as const;

/** The flags of DRIFT_V8_FLAGS missing from `argv` (a process's execArgv, or a script's words). */
export function missingDriftFlags(argv: readonly string[]): string[] {
  return DRIFT_V8_FLAGS.filter((flag) => !argv.includes(flag));
}
