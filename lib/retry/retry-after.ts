/**
 * Retry-After, read once for every client here (the drift check, the PR report's posting): both retry 429 and
 * 5xx and honour what the server asks for, within a cap.
 */

/** Retry-After in ms (delta seconds or an HTTP date), capped; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, capMs: number, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), capMs);
}
