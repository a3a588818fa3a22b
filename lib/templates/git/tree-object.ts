/**
 * Git's commit and tree objects, read from their raw bytes: what the stager stages is what the commit
 * holds, with no checkout between (no eol conversion, smudge filter or user config). Pure, so every rule
 * about a crafted tree is tested as data.
 */

export interface TreeEntry {
  mode: string; // "100644" | "100755" | "120000" | "160000"
  type: "blob" | "commit";
  oid: string;
  path: string;
}

/** The committer time (seconds) and root tree of a commit object, or undefined when it has neither. */
export function commitHeader(commit: string): { time: number; root: string } | undefined {
  const time = Number(/^committer .* (\d+) [+-]\d{4}$/m.exec(commit)?.[1]);
  const root = /^tree ([0-9a-f]{40})$/m.exec(commit)?.[1];
  if (!Number.isFinite(time) || !root) return undefined;
  return { time, root };
}

/**
 * What one tree entry asks of the walk: a problem to report, a subtree to walk (its paths under `prefix`),
 * a symlink whose target blob must be read, a regular file whose type must be checked, or a submodule,
 * kept as it is (checkTree refuses it by path).
 */
export type TreeSlot =
  | { problem: string }
  | { subtree: string; prefix: string }
  | { symlink: TreeEntry }
  | { blob: TreeEntry }
  | { file: TreeEntry };

/**
 * The entries of a tree object, in tree order, each as the slot the walk fills. A crafted tree is a
 * permanent problem, never a fetch problem: names git never writes, a name twice, a mode git does not use.
 */
export function treeSlots(tree: Buffer, prefix: string): TreeSlot[] {
  const names = new Set<string>();
  const slots: TreeSlot[] = [];
  // Tree object: repeated "<octal mode> <name>\0<20-byte binary oid>".
  let at = 0;
  while (at < tree.length) {
    const space = tree.indexOf(0x20, at);
    const nul = tree.indexOf(0, space);
    const mode = tree.subarray(at, space).toString("latin1");
    const name = tree.subarray(space + 1, nul).toString("utf8");
    const path = prefix + name;
    const oid = tree.subarray(nul + 1, nul + 21).toString("hex");
    at = nul + 21;
    // Git never writes these; a tree that has them was made by hand to escape the entry or to collide.
    if (name === "" || name === "." || name === ".." || name.includes("/")) {
      const why = name.includes("/") ? "contains '/'" : "is not a file name";
      slots.push({ problem: `${path || "(empty name)"}: tree entry name '${name}' ${why}` });
      continue;
    }
    if (names.has(name)) slots.push({ problem: `${path}: appears twice in one tree` });
    names.add(name);
    slots.push(slotOf(mode, oid, path));
  }
  return slots;
}

function slotOf(mode: string, oid: string, path: string): TreeSlot {
  if (mode === "40000") return { subtree: oid, prefix: `${path}/` };
  if (mode === "160000") return { file: { mode, type: "commit", oid, path } };
  // A symlink's target is its blob, read during the walk (small: at most what the kernel stores).
  if (mode === "120000") return { symlink: { mode, type: "blob", oid, path } };
  if (mode === "100644" || mode === "100755" || mode === "100664") {
    // 100664: what very old git wrote for a plain file; git reads it as 100644.
    return { blob: { mode: mode === "100664" ? "100644" : mode, type: "blob", oid, path } };
  }
  return {
    problem: `${path}: unsupported mode ${mode} (git writes 100644, 100755, 120000, 160000 or 40000)`,
  };
}

/** A tree names an object the fetch did not bring. */
export const notFetched = (path: string, type: string, oid: string) =>
  `${path}: ${type} ${oid} is not among the fetched objects`;

/** A tree names an object as one type, and the object is another. */
export const wrongType = (path: string, type: string, oid: string, found: string) =>
  `${path}: the tree says ${type}, but ${oid} is a ${found}, not a ${type}`;

/** The problem with a blob the tree names, given what the object store says it is (undefined: absent). */
export const blobProblem = (file: TreeEntry, found: string | undefined) =>
  found ? wrongType(file.path, "blob", file.oid, found) : notFetched(file.path, "blob", file.oid);
