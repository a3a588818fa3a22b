/**
 * Proof that the two pipelines staged the same thing: without it, a faster stager could simply be
 * staging less. Contents are compared byte for byte (by hash); modes are not, because the old script's
 * modes came from the umask, but our modes are checked against the commit itself.
 */
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { runGit } from "../../test/support/git-fixtures";

interface Node {
  kind: "file" | "link" | "dir" | "other";
  /** sha256 of the content, or the link target. */
  content: string;
  executable: boolean;
}

async function snapshot(root: string): Promise<Map<string, Node>> {
  const out = new Map<string, Node>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(root, rel))).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const st = await lstat(abs);
      const executable = (st.mode & 0o111) !== 0;
      if (st.isSymbolicLink()) out.set(path, { kind: "link", content: await readlink(abs), executable });
      else if (st.isDirectory()) {
        out.set(path, { kind: "dir", content: "", executable });
        await walk(path);
      } else if (st.isFile()) {
        const content = createHash("sha256")
          .update(await readFile(abs))
          .digest("hex");
        out.set(path, { kind: "file", content, executable });
      } else out.set(path, { kind: "other", content: "", executable });
    }
  };
  await walk("");
  return out;
}

export interface CompareEntry {
  /** Staged path under the destination, e.g. "plugins/ecc". */
  path: string;
  /** Bare fixture repository and pinned commit, to check modes against. */
  gitDir: string;
  sha: string;
}

export interface CompareResult {
  entries: number;
  files: number;
  /** Differences in paths or contents between the old script's tree and ours. */
  contentProblems: string[];
  /** Our files whose executable bit differs from the commit's mode. */
  modeProblems: string[];
  /** Anything under a `.git` directory in our tree: it must never reach an image. */
  gitDirs: string[];
}

export async function compareStaged(
  baselineDest: string,
  oursDest: string,
  entries: CompareEntry[],
): Promise<CompareResult> {
  const result: CompareResult = { entries: 0, files: 0, contentProblems: [], modeProblems: [], gitDirs: [] };
  for (const e of entries) {
    result.entries++;
    const [a, b] = await Promise.all([
      snapshot(join(baselineDest, e.path)),
      snapshot(join(oursDest, e.path)),
    ]);
    for (const [path, node] of b) {
      if (path === ".git" || path.startsWith(".git/") || path.includes("/.git/") || path.endsWith("/.git"))
        result.gitDirs.push(`${e.path}/${path}`);
      const old = a.get(path);
      if (!old) result.contentProblems.push(`${e.path}/${path}: only in ours`);
      else if (old.kind !== node.kind || old.content !== node.content)
        result.contentProblems.push(`${e.path}/${path}: differs (${old.kind} vs ${node.kind})`);
      if (node.kind === "file") result.files++;
    }
    for (const path of a.keys())
      if (!b.has(path)) result.contentProblems.push(`${e.path}/${path}: missing in ours`);

    const tree = await runGit(["--git-dir", e.gitDir, "ls-tree", "-r", "-z", e.sha]);
    for (const record of tree.stdout.split("\0")) {
      if (!record) continue;
      const tab = record.indexOf("\t");
      const mode = record.slice(0, record.indexOf(" "));
      const path = record.slice(tab + 1);
      const node = b.get(path);
      if (!node || mode === "120000") continue; // absence is already reported; links have no mode of their own
      if (node.executable !== (mode === "100755"))
        result.modeProblems.push(
          `${e.path}/${path}: commit mode ${mode}, staged ${node.executable ? "+x" : "-x"}`,
        );
    }
  }
  return result;
}
