/**
 * Walks the pinned commit's tree, and only that tree: after a fallback fetch the
 * repository holds whole branch histories, none of which is read. Subtrees are asked for together
 * (pipelined), then assembled in tree order.
 */
import { TreeError } from "../tree";
import { blobProblem, notFetched, type TreeEntry, treeSlots, wrongType } from "./tree-object";

export type WalkItem = { problem: string } | { file: TreeEntry };

/** What the walk reads objects through: a running cat-file, or the fetched packs themselves. */
export interface ObjectReader {
  /** The object's type and whole content, or undefined when absent; larger than `max` is an error. */
  read(oid: string, max: number): Promise<{ type: string; data: Buffer } | undefined>;
  /** The object's type, or undefined when absent. */
  info(oid: string): Promise<string | undefined>;
}

/** Longest symlink target Linux stores (PATH_MAX less the terminating NUL). */
const MAX_LINK_BYTES = 4095;
/** A commit or tree object larger than this is not a template's: refused rather than read into memory. */
export const MAX_METADATA_BYTES = 64 * 1024 * 1024;

/**
 * Every file of the tree at `root`, and what is wrong with the tree, path by path, in tree order. Symlink
 * targets go into `links`. With `checkBlobs` (--batch-command), each regular file's type is asked in the
 * same round trip as the subtrees; without, the caller checks them all once the walk is done.
 */
export function walkTree(
  trees: ObjectReader,
  root: string,
  checkBlobs: boolean,
  links: Map<string, string>,
): Promise<WalkItem[]> {
  const symlink = async (file: TreeEntry): Promise<WalkItem[]> => {
    let found: { type: string; data: Buffer } | undefined;
    try {
      found = await trees.read(file.oid, MAX_LINK_BYTES);
    } catch (err) {
      if (!(err instanceof TreeError)) throw err;
      return [{ file }, { problem: `${file.path}: symlink target longer than ${MAX_LINK_BYTES} bytes` }];
    }
    if (found?.type !== "blob")
      return [
        { file },
        {
          problem: found
            ? wrongType(file.path, "blob", file.oid, found.type)
            : notFetched(file.path, "blob", file.oid),
        },
      ];
    links.set(file.path, found.data.toString("utf8"));
    return [{ file }];
  };

  const checkBlob = async (file: TreeEntry): Promise<WalkItem[]> => {
    const type = await trees.info(file.oid);
    if (type === "blob") return [{ file }];
    return [{ file }, { problem: blobProblem(file, type) }];
  };

  const walk = async (treeOid: string, prefix: string): Promise<WalkItem[]> => {
    const label = prefix ? prefix.slice(0, -1) : "(root tree)";
    const found = await trees.read(treeOid, MAX_METADATA_BYTES);
    if (found?.type !== "tree")
      return [
        {
          problem: found ? wrongType(label, "tree", treeOid, found.type) : notFetched(label, "tree", treeOid),
        },
      ];
    const parts = treeSlots(found.data, prefix).map((slot): WalkItem | Promise<WalkItem[]> => {
      if ("subtree" in slot) return walk(slot.subtree, slot.prefix);
      if ("symlink" in slot) return symlink(slot.symlink);
      if ("blob" in slot) return checkBlobs ? checkBlob(slot.blob) : { file: slot.blob };
      return slot;
    });
    return (await Promise.all(parts.map((p) => (p instanceof Promise ? p : [p])))).flat();
  };
  return walk(root, "");
}
