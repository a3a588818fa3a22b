/**
 * Reads the pinned commit's tree, and only that: the commit, its trees, its symlink targets and every
 * other blob's type (not its content), which writeBlobs then uses to stream the blobs.
 *
 * Where the fetch left only packs (it keeps each one whole: see fetch.unpackLimit in env.ts), they are
 * read in this process (pack-store.ts), with no git process at all. Otherwise one `cat-file
 * --batch-command` does it; a git before 2.36 has no --batch-command: there a `cat-file --batch` walks, a
 * `--batch-check` gives the types and a buffered `--batch` streams, one after another. Either way trees are
 * walked from raw bytes, not checked out: no eol conversion, smudge filter or user config can change what
 * is staged, which keeps the tree byte-identical everywhere.
 */
import { TreeError } from "../tree";
import { BatchCommandUnsupported, CatFile } from "./cat-file";
import { GitError } from "./failure";
import { PackStore } from "./pack-store";
import { type GitRun, git } from "./process";
import type { BlobSink } from "./requests";
import { blobProblem, commitHeader, type TreeEntry } from "./tree-object";
import { MAX_METADATA_BYTES, type ObjectReader, type WalkItem, walkTree } from "./tree-walk";

export interface CommitContents {
  /** Committer time (seconds): the staged files' mtime, so it is the same on every machine. */
  time: number;
  files: TreeEntry[];
  /** Symlink path -> target (the link blob's bytes as UTF-8). */
  links: Map<string, string>;
  /**
   * Streams the named blobs, raw, each into the file descriptor its sink opens: no blob is ever held in
   * memory whole, whatever its size. Only blobs of the tree (checked by readCommit) can be asked for.
   */
  writeBlobs(sinks: BlobSink[]): Promise<void>;
  /** Ends the cat-file process; call it once the blobs are written, or on any failure. */
  close(): Promise<void>;
}

/** The PATHs (so: the gits) found to have no --batch-command, learned at the first entry they read. */
const withoutBatchCommand = new Set<string>();

export async function readCommit(gitDir: string, sha: string, run: GitRun): Promise<CommitContents> {
  const packs = PackStore.open(gitDir, () => new CatFile(gitDir, run, "buffered"));
  if (packs) return readFrom(packs, sha);
  const which = run.env.PATH ?? "";
  if (!withoutBatchCommand.has(which)) {
    try {
      return await readPinnedTree(gitDir, sha, run, true);
    } catch (err) {
      if (!(err instanceof BatchCommandUnsupported)) throw err;
      withoutBatchCommand.add(which);
    }
  }
  return readPinnedTree(gitDir, sha, run, false);
}

/** Object ids and types of many objects at once (`cat-file --batch-check`): no content is read. */
async function objectTypes(gitDir: string, oids: string[], run: GitRun): Promise<Map<string, string>> {
  const types = new Map<string, string>();
  const unique = [...new Set(oids)];
  if (unique.length === 0) return types;
  const { stdout } = await git(
    ["--git-dir", gitDir, "cat-file", "--batch-check=%(objectname) %(objecttype)"],
    run,
    `${unique.join("\n")}\n`,
  );
  for (const line of stdout.toString("utf8").split("\n")) {
    const [oid, type] = line.split(" ");
    if (oid && type && type !== "missing") types.set(oid, type);
  }
  return types;
}

/** The commit's time and its walked tree; `trees` is closed if either fails. */
async function walkCommit(
  trees: ObjectReader & { close(): Promise<void> },
  sha: string,
  single: boolean,
  links: Map<string, string>,
) {
  try {
    const commitObject = await trees.read(sha, MAX_METADATA_BYTES);
    if (commitObject?.type !== "commit")
      throw new GitError(`object ${sha} (commit) missing after fetch`, "transient");
    const header = commitHeader(commitObject.data.toString("utf8"));
    if (!header) throw new GitError(`commit ${sha}: malformed commit object`, "transient");
    return { time: header.time, items: await walkTree(trees, header.root, single, links) };
  } catch (err) {
    await trees.close();
    throw err;
  }
}

/**
 * The walk's files, and its problems with, for the files in `checked`, a type other than blob in `types`
 * (checked after the walk, without --batch-command).
 */
function settle(items: WalkItem[], checked: ReadonlySet<TreeEntry>, types: ReadonlyMap<string, string>) {
  const problems: string[] = [];
  const files: TreeEntry[] = [];
  for (const item of items) {
    if ("problem" in item) {
      problems.push(item.problem);
      continue;
    }
    const f = item.file;
    files.push(f);
    if (!checked.has(f)) continue;
    const type = types.get(f.oid);
    if (type !== "blob") problems.push(blobProblem(f, type));
  }
  return { files, problems };
}

/** The commit read through `reader`, which answers types during the walk and then streams the blobs. */
async function readFrom(
  reader: ObjectReader & Pick<CommitContents, "writeBlobs" | "close">,
  sha: string,
): Promise<CommitContents> {
  const links = new Map<string, string>();
  const { time, items } = await walkCommit(reader, sha, true, links);
  const { files, problems } = settle(items, new Set(), new Map());
  if (problems.length > 0) {
    await reader.close();
    throw new TreeError(`malformed tree at ${sha}: ${problems.join("; ")}`);
  }
  return {
    time,
    files,
    links,
    writeBlobs: once((sinks) => reader.writeBlobs(sinks)),
    close: () => reader.close(),
  };
}

/** writeBlobs, refusing a second call: the blobs stream once, from a reader that closes after them. */
function once(write: CommitContents["writeBlobs"]): CommitContents["writeBlobs"] {
  let streamed = false;
  return (sinks) => {
    if (streamed) return Promise.reject(new Error("writeBlobs: called twice"));
    streamed = true;
    return write(sinks);
  };
}

async function readPinnedTree(
  gitDir: string,
  sha: string,
  run: GitRun,
  single: boolean,
): Promise<CommitContents> {
  const trees = new CatFile(gitDir, run, single ? "command" : "batch");
  const links = new Map<string, string>();
  const { time, items } = await walkCommit(trees, sha, single, links);

  // Without --batch-command, the regular blobs' types come from a --batch-check, once the walk is done.
  const unchecked = single
    ? []
    : items.flatMap((i) =>
        "file" in i && i.file.type === "blob" && i.file.mode !== "120000" ? [i.file] : [],
      );
  let types = new Map<string, string>();
  if (!single) {
    await trees.close();
    types = await objectTypes(
      gitDir,
      unchecked.map((f) => f.oid),
      run,
    );
  }
  const { files, problems } = settle(items, new Set(unchecked), types);
  if (problems.length > 0) {
    await trees.close();
    throw new TreeError(`malformed tree at ${sha}: ${problems.join("; ")}`);
  }

  // The blobs' contents: through the same process (--batch-command), or a cat-file started for just that
  // with all requests written at once.
  let cat: CatFile | undefined = single ? trees : undefined;
  const writeBlobs = once((sinks) => {
    if (sinks.length === 0) return Promise.resolve();
    cat ??= new CatFile(gitDir, run, "buffered");
    return cat.stream(sinks);
  });
  const close = async () => {
    await cat?.close();
  };
  return { time, files, links, writeBlobs, close };
}
