/**
 * Phase timings of one program run, for bench:engine-noop. The engine's trace sees the program as one span;
 * these marks split it (config, staging, gate, builder check) without a profiler. Off unless
 * MOLECULE_PHASE_LOG names a file; then one JSON line per run is appended to it.
 */
import { appendFileSync } from "node:fs";

export interface PhaseRecord {
  /** Epoch ms the Node process started (performance.timeOrigin): the language host's spawn of it. */
  processStart: number;
  /** Epoch ms the program's body began: module loading and the TypeScript compile are before it. */
  programStart: number;
  /** Each phase's duration in ms, in the order it ran. */
  phases: Record<string, number>;
}

export interface PhaseMarks {
  /** Runs `fn` as the named phase, recording its duration whether it returns or throws. */
  time<T>(name: string, fn: () => T): T;
  /** Writes the record, if the log is on. */
  flush(): void;
  readonly record: PhaseRecord;
}

export function phaseMarks(
  file: string | undefined = process.env.MOLECULE_PHASE_LOG,
  now: () => number = Date.now,
  processStart: number = performance.timeOrigin,
): PhaseMarks {
  const record: PhaseRecord = { processStart: Math.round(processStart), programStart: now(), phases: {} };
  const add = (name: string, started: number) => {
    record.phases[name] = (record.phases[name] ?? 0) + (now() - started);
  };
  return {
    record,
    time<T>(name: string, fn: () => T): T {
      const started = now();
      let result: T;
      try {
        result = fn();
      } catch (err) {
        add(name, started);
        throw err;
      }
      // A promise's phase ends when it settles, not when it is returned.
      if (result instanceof Promise) return result.finally(() => add(name, started)) as T;
      add(name, started);
      return result;
    },
    flush() {
      if (file) appendFileSync(file, `${JSON.stringify(record)}\n`);
    },
  };
}
