import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitEnv as stagerGitEnv } from "../../lib/templates/git/env";
import type { GitRun } from "../../lib/templates/git/process";
import { readCommit } from "../../lib/templates/git/read-commit";
import { hashTree, resolveLink, TreeError, writeTree } from "../../lib/templates/tree";
import { gitEnv as fixtureGitEnv, makeTempDir, removeDir, runGit } from "../support/git-fixtures";
import { createRawRepo } from "../support/stage-fixtures";

const links = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe("resolveLink (symlinks must stay inside their entry)", () => {
  it("accepts links that stay inside, including chains through in-tree links", () => {
    const tree = links({
      "docs/latest": "v2",
      "readme.md": "docs/latest/intro.md",
      "a/b/up": "..",
      "a/b/sib": "up/c",
    });
    expect(resolveLink("docs/latest", tree)).toBe("docs/v2");
    expect(resolveLink("readme.md", tree)).toBe("docs/v2/intro.md");
    expect(resolveLink("a/b/up", tree)).toBe("a");
    expect(resolveLink("a/b/sib", tree)).toBe("a/c");
    expect(resolveLink("self", links({ self: "." }))).toBe("");
  });

  it("rejects links that leave the entry, directly or through other links, absolute targets and loops", () => {
    expect(resolveLink("x", links({ x: "../../etc/passwd" }))).toBeUndefined();
    expect(resolveLink("x", links({ x: "/etc/passwd" }))).toBeUndefined();
    expect(resolveLink("x", links({ x: ".." }))).toBeUndefined();
    // Textually inside (a/up/../.. normalises to "."), but a/up is itself a link to "..": the kernel ends outside.
    const sneaky = links({ "a/up": "..", escape: "a/up/../../outside" });
    expect(resolveLink("escape", sneaky)).toBeUndefined();
    expect(resolveLink("via", links({ via: "abs/file", abs: "/tmp" }))).toBeUndefined();
    expect(resolveLink("a", links({ a: "b", b: "a" }))).toBeUndefined();
  });
});

describe("readCommit on crafted trees (what is wrong, with which path)", () => {
  let root: string;
  beforeAll(async () => {
    root = await makeTempDir("tree-raw-");
  });
  afterAll(() => removeDir(root));
  const run = () => ({ env: stagerGitEnv(fixtureGitEnv()), timeoutMs: 30_000 });
  const ABSENT = "1234567890123456789012345678901234567890";

  it("an entry whose object is absent names the path and the object, not a fetch that went wrong", async () => {
    const raw = await createRawRepo(root, "acme/absent", [
      { mode: "100644", name: "config.yaml", content: "c\n" },
      { mode: "40000", name: "docs", tree: [{ mode: "100644", name: "gone.md", oid: ABSENT }] },
      { mode: "40000", name: "sub", oid: ABSENT.replace("1", "2") },
    ]);
    const err = await readCommit(raw.dir, raw.sha, run()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TreeError);
    expect((err as Error).message).toContain(`docs/gone.md: blob ${ABSENT} is not among the fetched objects`);
    expect((err as Error).message).toContain(
      `sub: tree ${ABSENT.replace("1", "2")} is not among the fetched objects`,
    );
    expect((err as Error).message).not.toMatch(/missing after fetch/);
  });

  it("streams a commit's blobs once, from loose objects or from a pack", async () => {
    const raw = await createRawRepo(root, "acme/once", [{ mode: "100644", name: "a.md", content: "# a\n" }]);
    for (const packed of [false, true]) {
      if (packed) await runGit(["--git-dir", raw.dir, "repack", "-a", "-d", "-q"]);
      const commit = await readCommit(raw.dir, raw.sha, run());
      const dest = path.join(root, `once-${packed}`);
      await writeTree(dest, commit.files, commit.links, commit.time, commit);
      expect(await readFile(path.join(dest, "a.md"), "utf8")).toBe("# a\n");
      await expect(commit.writeBlobs([])).rejects.toThrow("writeBlobs: called twice");
      await commit.close();
    }
  });

  // Before 2.36 git has no `cat-file --batch-command`: the tree is then read with --batch, --batch-check
  // and a buffered --batch, one after another, and must come out the same, problems included.
  it("a git without cat-file --batch-command reads the same tree and finds the same problems", async () => {
    const bin = path.join(root, "old-git");
    const log = path.join(root, "old-git.log");
    await mkdir(bin, { recursive: true });
    await writeFile(
      path.join(bin, "git"),
      `#!/bin/sh\necho "$*" >> '${log}'\nfor a in "$@"; do [ "$a" = --batch-command ] && { echo "error: unknown option \\\`batch-command'" >&2; exit 129; }; done\nexec /usr/bin/git "$@"\n`,
      { mode: 0o755 },
    );
    const oldGit = () => ({ ...run(), env: { ...run().env, PATH: `${bin}:${process.env.PATH}` } });
    const raw = await createRawRepo(root, "acme/both", [
      { mode: "100644", name: "config.yaml", content: "c\n" },
      { mode: "100755", name: "run.sh", content: "#!/bin/sh\n" },
      { mode: "120000", name: "link", content: "config.yaml" },
      { mode: "40000", name: "docs", tree: [{ mode: "100644", name: "a.md", content: "# a\n" }] },
    ]);
    const stageWith = async (r: GitRun, dir: string) => {
      const commit = await readCommit(raw.dir, raw.sha, r);
      await writeTree(path.join(root, dir), commit.files, commit.links, commit.time, commit);
      await commit.close();
      return { files: commit.files, links: [...commit.links], digest: hashTree(path.join(root, dir)) };
    };
    const current = await stageWith(run(), "with-batch-command");
    expect(await stageWith(oldGit(), "without-1")).toEqual(current);
    expect(await stageWith(oldGit(), "without-2")).toEqual(current);
    // Tried once, then known: the second entry went straight to --batch.
    expect(
      (await readFile(log, "utf8")).split("\n").filter((l) => l.includes("--batch-command")),
    ).toHaveLength(1);

    const bad = await createRawRepo(root, "acme/absent-old", [
      { mode: "100644", name: "config.yaml", content: "c\n" },
      { mode: "40000", name: "docs", tree: [{ mode: "100644", name: "gone.md", oid: ABSENT }] },
      { mode: "120000", name: "link", oid: ABSENT.replace("1", "3") },
    ]);
    const err = await readCommit(bad.dir, bad.sha, oldGit()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TreeError);
    expect((err as Error).message).toContain(`docs/gone.md: blob ${ABSENT} is not among the fetched objects`);
    expect((err as Error).message).toContain(
      `link: blob ${ABSENT.replace("1", "3")} is not among the fetched objects`,
    );
  });
});
