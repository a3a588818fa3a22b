/**
 * Where everything lives in a destination: the list directories and their entries, the bookkeeping and
 * the lock, and the short-lived names a run works under (`.tmp-<tag>…` and `.old-<tag>-<name>`, which
 * steps/swap.ts's recover() settles after a kill).
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { LIST_DIRS, LISTS, type ListName, type Manifest } from "../manifest/contract";
import { STATE_DIR } from "./destination";

/** The random part of a temporary name: 8 hex digits, what recover() matches. */
export const tag = () => randomBytes(4).toString("hex");

type Named = { list: ListName; name: string };

export class Layout {
  constructor(readonly dest: string) {}
  listDir(list: ListName) {
    return join(this.dest, LIST_DIRS[list]);
  }
  target(e: Named) {
    return join(this.listDir(e.list), e.name);
  }
  /** An entry's working directory for one run, beside its target. */
  work(e: Named) {
    return join(this.listDir(e.list), `.tmp-${tag()}-${e.name}`);
  }
  stateDir(list?: ListName) {
    return list ? join(this.dest, STATE_DIR, list) : join(this.dest, STATE_DIR);
  }
  marker(e: Named) {
    return join(this.stateDir(e.list), `${e.name}.json`);
  }
  lock() {
    return join(this.dest, STATE_DIR, "lock");
  }
  /** Every directory the stager manages, bookkeeping included. */
  managedDirs() {
    return LISTS.flatMap((list) => [this.listDir(list), this.stateDir(list)]);
  }
}

/** The names a list directory should hold: the manifest's entries for that list. */
export const wantedNames = (manifest: Manifest, list: ListName) => new Set(manifest[list].map((e) => e.name));
