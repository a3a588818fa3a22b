/**
 * One stager per destination. The lock names its holder by pid *and* process start time, so a lock left
 * by a `kill -9` is taken over even when the pid has since been reused by an unrelated process, or when
 * the killed holder lingers as a zombie nobody reaps.
 */

import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { procStat } from "../os/proc";

export class LockError extends Error {
  override name = "LockError";
}

interface Holder {
  pid: number;
  /** /proc/<pid>/stat field 22; null where /proc is unavailable (then the pid alone decides). */
  start: string | null;
}

function startTimeOf(pid: number): string | null {
  return procStat(pid)?.start ?? null;
}

function alive(holder: Holder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procStat(holder.pid);
  // A zombie (Z, or X while it is being reaped) has exited: it answers kill(pid, 0) and keeps its start
  // time until its parent reaps it, which a parent that never waits (an init that does not reap, a shell
  // that exec'd something else) never does. It holds no lock.
  if (stat && (stat.state === "Z" || stat.state === "X")) return false;
  return !(holder.start && stat?.start && stat.start !== holder.start);
}

function readHolder(path: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, "utf8")) as Holder;
    return Number.isInteger(holder.pid) ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock or throws naming the live holder. Returns the release function. */
export function acquireLock(path: string): () => void {
  const me: Holder = { pid: process.pid, start: startTimeOf(process.pid) };
  const mine = JSON.stringify(me);
  // Written aside and hard-linked into place: the lock never exists without its holder in it.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, mine);
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        linkSync(tmp, path);
        return () => {
          if (readFileSync(path, "utf8") === mine) rmSync(path, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = readHolder(path);
      if (holder && alive(holder)) {
        throw new LockError(`${path}: another stager (pid ${holder.pid}) is staging into this directory`);
      }
      // Stale: move it out of the way under a unique name (only one contender's rename succeeds), and put
      // it back if what moved was in fact a live lock that a faster contender had just created.
      const aside = `${path}.stale.${randomBytes(4).toString("hex")}`;
      try {
        renameSync(path, aside);
      } catch {
        continue;
      }
      const moved = readHolder(aside);
      if (moved && alive(moved)) {
        try {
          linkSync(aside, path);
        } catch {}
      }
      rmSync(aside, { force: true });
    }
    throw new LockError(`${path}: could not take the staging lock (contended)`);
  } finally {
    rmSync(tmp, { force: true });
  }
}
