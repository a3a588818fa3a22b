/**
 * Renames that keep every entry whole at its name: a new tree is swapped in beside the old, an entry to
 * delete is first moved aside, and after a kill recover() puts the destination back in order.
 */
import { readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { LISTS } from "../../manifest/contract";
import { lstatOrUndefined } from "../destination";
import { type Layout, tag } from "../layout";

/**
 * Renames an entry to `.old-<tag>-<name>` beside itself, the one name recover() knows how to restore.
 * Deleting or replacing an entry starts here, so a kill never leaves half an entry at its name.
 */
export function moveAside(dir: string): string {
  const aside = join(dirname(dir), `.old-${tag()}-${basename(dir)}`);
  renameSync(dir, aside);
  return aside;
}

/** Deletes a name in a list directory (an entry, or a stray file or dot-entry): never through a link. */
export function removeDir(dir: string): void {
  let doomed = dir;
  try {
    doomed = moveAside(dir);
  } catch (err) {
    // A stray whose name is too long to prefix: deleted in place (a kill leaves a stray, removed next run).
    if ((err as NodeJS.ErrnoException).code !== "ENAMETOOLONG") throw err;
  }
  rmSync(doomed, { recursive: true, force: true });
}

/** Puts the built `tree` at `target`, the previous tree (if any) moved aside first and then deleted. */
export function swapIn(tree: string, target: string): void {
  // Back to back, with no await between: the entry is missing from its name for two syscalls.
  const old = lstatOrUndefined(target) ? moveAside(target) : undefined;
  renameSync(tree, target);
  if (old) rmSync(old, { recursive: true, force: true });
}

/**
 * Puts the destination back in order after a killed run: half-built trees are discarded, and an entry
 * caught between the two renames of a swap gets its previous tree back (it is re-verified afterwards).
 */
export function recover(layout: Layout): void {
  for (const list of LISTS) {
    const dir = layout.listDir(list);
    for (const name of readdirSync(dir)) {
      if (name.startsWith(".tmp-")) rmSync(join(dir, name), { recursive: true, force: true });
      const old = /^\.old-[0-9a-f]{8}-(.+)$/.exec(name);
      if (!old?.[1]) continue;
      if (lstatOrUndefined(join(dir, old[1]))) rmSync(join(dir, name), { recursive: true, force: true });
      else renameSync(join(dir, name), join(dir, old[1]));
    }
  }
}
