/**
 * A staged tree's stat fingerprint: every path with its type, mode, size, inode and sub-microsecond times, read
 * with lstat alone. Hashing a tree reads every byte of it; this reads none, so a warm run that finds the
 * fingerprint it recorded for a digest can trust that digest, as git trusts its index. Any write to a file
 * moves its ctime, which no unprivileged process can set back, and a copy or restore moves the inodes.
 *
 * The root's own times are left out: swapping the tree into place renames the root, which moves its ctime.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

export function statFingerprint(root: string): string {
  // Number stats, not bigint: a time in ms as a double resolves a quarter of a microsecond today, finer
  // than the kernel's timestamp tick, and allocating a bigint per field was most of the walk's garbage.
  const top = lstatSync(root);
  const lines = [`. ${top.mode} ${top.ino} ${top.dev}\n`];
  function walk(rel: string): void {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      lines.push(
        `${path}\0${st.mode} ${st.size} ${st.mtimeMs} ${st.ctimeMs} ${st.ino} ${st.dev} ${st.nlink}\n`,
      );
      if (st.isDirectory()) walk(path);
    }
  }
  walk("");
  return createHash("sha256").update(lines.join("")).digest("hex");
}
