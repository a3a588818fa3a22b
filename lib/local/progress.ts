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

export function startTicker(
  label: string,
  estimateMs: number | undefined,
  out: NodeJS.WriteStream = process.stderr,
): Ticker {
  const started = Date.now();
  const tty = out.isTTY === true;
  const line = () => {
    const elapsed = Date.now() - started;
    const estimate =
      estimateMs === undefined
        ? "no previous build to estimate from"
        : elapsed < estimateMs
          ? `about ${formatDuration(estimateMs - elapsed)} left (last build took ${formatDuration(estimateMs)})`
          : `past the last build's ${formatDuration(estimateMs)}`;
    return `${label}: ${formatDuration(elapsed)} elapsed, ${estimate}`;
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
