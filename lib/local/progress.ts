/**
 * Progress for long local work (engine builds, image builds): what is running, for how long, and the
 * estimate when a previous run gives one. On a terminal one line is redrawn every second; elsewhere (CI logs)
 * a line is printed every 30 s so the log shows life without drowning in it.
 */
export const formatDuration = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
};

export interface Ticker {
  stop(outcome: string): number;
}

export interface Estimate {
  ms: number;
  /** Where the estimate comes from, as the line says it: "last build took", "a cold 2-core build takes". */
  basis: string;
}

export function startTicker(
  label: string,
  estimate: Estimate | undefined,
  out: NodeJS.WriteStream = process.stderr,
): Ticker {
  const started = Date.now();
  const tty = out.isTTY === true;
  const line = () => {
    const elapsed = Date.now() - started;
    const guess =
      estimate === undefined
        ? "no previous build to estimate from"
        : elapsed < estimate.ms
          ? `about ${formatDuration(estimate.ms - elapsed)} left (${estimate.basis} ${formatDuration(estimate.ms)})`
          : `longer than expected (${estimate.basis} ${formatDuration(estimate.ms)})`;
    return `${label}: ${formatDuration(elapsed)} elapsed, ${guess}`;
  };
  if (!tty) out.write(`${line()}\n`);
  const timer = setInterval(
    () => (tty ? out.write(`\r\x1b[K${line()}`) : out.write(`${line()}\n`)),
    tty ? 1000 : 30_000,
  );
  timer.unref();
  return {
    stop(outcome) {
      clearInterval(timer);
      const elapsed = Date.now() - started;
      out.write(`${tty ? "\r\x1b[K" : ""}${label}: ${outcome} in ${formatDuration(elapsed)}\n`);
      return elapsed;
    },
  };
}
