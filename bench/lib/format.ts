/** How every bench prints a duration or a size, so tables from different benches read alike. */

export const MiB = 1024 * 1024;

/** Milliseconds below a second, seconds with two decimals above. */
export const fmtMs = (ms: number): string =>
  ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;

/** Always seconds, two decimals. */
export const fmtSeconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** B, KiB or MiB, whichever is the largest unit the size reaches. */
export const fmtBytes = (b: number): string =>
  b >= MiB ? `${(b / MiB).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`;

/** Whole MiB: for sizes (files, peaks, caches) where a fraction is noise. */
export const fmtMiB = (b: number): string => `${(b / MiB).toFixed(0)} MiB`;
