/** The benches' numeric options, checked the same way, so a typo fails before minutes of setup. */

/** `text` as a whole number of at least `min`; the error names the option as it is typed. */
export function intOption(name: string, text: string | undefined, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name}: expected a whole number >= ${min}, got ${JSON.stringify(text ?? null)}`);
  return n;
}
