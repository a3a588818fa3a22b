/**
 * What /proc says of a process. Here PID 1 never reaps orphans, so a killed process can stay a zombie whose
 * pid still answers `kill(pid, 0)`: only its state field tells it is dead.
 */
import { readFileSync } from "node:fs";

/**
 * The fields of a /proc/<pid>/stat text from field 3 (state) on. The command name (field 2) may contain
 * spaces or ")"; the fields after its last ")" are plain.
 */
export function statFields(text: string): string[] {
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; undefined where /proc cannot tell. */
export function procStat(pid: number): { state: string; start: string | null } | undefined {
  try {
    const fields = statFields(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return { state: fields[0] ?? "", start: fields[19] ?? null };
  } catch {
    return undefined;
  }
}

export type ProcessState = "running" | "zombie" | "gone";

export function processState(pid: number): ProcessState {
  const stat = procStat(pid);
  if (!stat) return "gone";
  return stat.state === "Z" || stat.state === "X" ? "zombie" : "running";
}
