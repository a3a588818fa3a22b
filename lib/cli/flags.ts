/**
 * Zod pieces for flag values as parseArgs gives them (strings, or undefined when absent), so each check and
 * its message is written once for every command.
 */
import { z } from "zod";

/**
 * An integer flag: absent gives `fallback`; otherwise Number() of the text must be an integer >= `min`.
 * `expected` words the message where a command says more than "an integer >= min".
 */
export function integerFlag(flag: string, opts: { min: number; fallback: number; expected?: string }) {
  const expected = opts.expected ?? `an integer >= ${opts.min}`;
  return z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return opts.fallback;
      const n = Number(text);
      if (Number.isInteger(n) && n >= opts.min) return n;
      ctx.addIssue({ code: "custom", message: `--${flag}: expected ${expected}, got "${text}"` });
      return z.NEVER;
    });
}

/** A string flag that must be given, and not as "" (an unset variable in a script expands to that). */
export function requiredFlag(message: string) {
  return z.string({ error: message }).min(1, message);
}
