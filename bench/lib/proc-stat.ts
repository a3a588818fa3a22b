/**
 * Fields of /proc/<pid>/stat. The command name (field 2) may itself contain spaces or ") ", so the fields
 * are counted from its last ")".
 */
import { statFields } from "../../lib/os/proc";

export interface ProcStat {
  comm: string;
  /** Clock ticks (fields 14-17): the process's own user and system time, and its reaped children's. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  // f[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17.
  const f = statFields(text);
  const n = (i: number) => Number(f[i] ?? 0) || 0;
  return {
    comm: text.slice(text.indexOf("(") + 1, close),
    utime: n(11),
    stime: n(12),
    cutime: n(13),
    cstime: n(14),
  };
}

/** Busy and stolen CPU in clock ticks from /proc/stat's text (its first line, all cores summed). */
export function parseMachineCpu(text: string): { busy: number; steal: number } {
  const [, user, nice, system, , , irq, softirq, steal] = text
    .split("\n", 1)[0]
    ?.split(/\s+/)
    .map(Number) ?? [0];
  return {
    busy: (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0),
    steal: steal ?? 0,
  };
}
