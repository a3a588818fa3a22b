/**
 * Progress on stderr: a live bar on a terminal, plain timestamped lines in CI logs (where a redrawn bar
 * turns into thousands of lines).
 */
import type * as CliProgress from "cli-progress";

export interface Progress {
  start(total: number): void;
  entryStarted(label: string): void;
  entryDone(label: string, action: string, ms: number): void;
  /** Each failure once: `source` (e.g. "owner/repo @ sha") says what was being staged. */
  entryFailed(label: string, message: string, source?: string): void;
  /** Something the user must act on or know about (fallback fetch, skipped entry). */
  warn(message: string): void;
  /** Retries and other details worth a log line but not a warning. */
  note(message: string): void;
  stop(): void;
}

const noop = () => {};

/** Reports nothing: for library callers that report in their own terms, and for tests. */
export const SILENT_PROGRESS: Progress = {
  start: noop,
  entryStarted: noop,
  entryDone: noop,
  entryFailed: noop,
  warn: noop,
  note: noop,
  stop: noop,
};

export function createProgress(stream: NodeJS.WriteStream, quiet = false): Progress {
  if (quiet) return quietProgress(stream);
  return stream.isTTY ? barProgress(stream) : lineProgress(stream);
}

/** Quiet drops progress, never warnings or failures: those are what someone has to act on. */
function quietProgress(stream: NodeJS.WritableStream): Progress {
  return { ...lineProgress(stream), start: noop, entryStarted: noop, entryDone: noop, note: noop };
}

const failedLine = (label: string, message: string, source?: string) =>
  `FAILED ${label}${source ? ` (${source})` : ""}: ${message}`;

function lineProgress(stream: NodeJS.WritableStream): Progress {
  const line = (text: string) => stream.write(`stage: ${text}\n`);
  return {
    start: (total) => line(`${total} entries`),
    entryStarted: () => {},
    entryDone: (label, action, ms) => line(`${action} ${label} (${ms} ms)`),
    entryFailed: (label, message, source) => line(failedLine(label, message, source)),
    warn: (message) => line(`warning: ${message}`),
    note: (message) => line(message),
    stop: () => {},
  };
}

function barProgress(stream: NodeJS.WriteStream): Progress {
  const running = new Set<string>();
  // Loaded only for a terminal: cli-progress is a tenth of what `npm run stage` loads at start.
  const { SingleBar } = require("cli-progress") as typeof CliProgress;
  const bar = new SingleBar({
    stream,
    format: "staging [{bar}] {value}/{total} {running}",
    hideCursor: true,
    clearOnComplete: true,
  });
  const update = () => {
    const names = [...running];
    const shown = names.slice(0, 3).join(", ") + (names.length > 3 ? ` +${names.length - 3}` : "");
    bar.update({ running: shown });
  };
  // Lines that must survive the redraw are printed above the bar.
  const above = (text: string) => {
    stream.write("\r\x1b[K");
    stream.write(`${text}\n`);
    update();
  };
  return {
    start: (total) => bar.start(total, 0, { running: "" }),
    entryStarted: (label) => {
      running.add(label);
      update();
    },
    entryDone: (label) => {
      running.delete(label);
      bar.increment(1, {});
      update();
    },
    entryFailed: (label, message, source) => {
      running.delete(label);
      bar.increment(1, {});
      above(failedLine(label, message, source));
    },
    warn: (message) => above(`warning: ${message}`),
    note: () => {},
    stop: () => bar.stop(),
  };
}
