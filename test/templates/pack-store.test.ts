// The in-process pack reader against git itself: every object of real packs (OFS_DELTA and REF_DELTA
// chains, a large whole blob, large deltified blobs) must come out byte for byte as `git cat-file` gives
// it, and a damaged pack must fail, never yield other bytes.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatFile } from "../../lib/templates/git/cat-file";
import { gitEnv as stagerGitEnv } from "../../lib/templates/git/env";
import { initBare } from "../../lib/templates/git/fetch";
import { PackStore, STREAM_BYTES } from "../../lib/templates/git/pack-store";
import type { BlobSink } from "../../lib/templates/git/requests";
import { createRepo, deterministicBytes, gitEnv, makeTempDir, removeDir } from "../support/git-fixtures";

const git = (args: string[], input?: Buffer) => {
  const r = spawnSync("git", args, { env: gitEnv(), input, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};

/** Every object git has in `gitDir`: id -> type and content, from one `cat-file --batch-all-objects`. */
function allObjects(gitDir: string): Map<string, { type: string; data: Buffer }> {
  const out = git(["--git-dir", gitDir, "cat-file", "--batch-all-objects", "--batch"]);
  const objects = new Map<string, { type: string; data: Buffer }>();
  for (let at = 0; at < out.length; ) {
    const eol = out.indexOf(0x0a, at);
    const [oid = "", type = "", size = "0"] = out.toString("utf8", at, eol).split(" ");
    const start = eol + 1;
    objects.set(oid, { type, data: out.subarray(start, start + Number(size)) });
    at = start + Number(size) + 1;
  }
  return objects;
}

/** How many objects of the (single) pack in `gitDir` are deltas. */
function deltaCount(gitDir: string): number {
  const packDir = path.join(gitDir, "objects", "pack");
  const idx = readdirSync(packDir).find((n) => n.endsWith(".idx")) as string;
  const lines = git(["verify-pack", "-v", path.join(packDir, idx)])
    .toString()
    .split("\n");
  return lines.filter((l) => /^[0-9a-f]{40} (blob|tree|commit) +\d+ \d+ \d+ \d+ [0-9a-f]{40}$/.test(l))
    .length;
}

/** Writes each blob to a file under `dir` through the store, as writeTree would. */
async function writeAll(store: PackStore, dir: string, oids: string[]): Promise<Map<string, Buffer>> {
  mkdirSync(dir, { recursive: true });
  const { closeSync, openSync } = await import("node:fs");
  const sinks: BlobSink[] = oids.map((oid) => ({
    oid,
    open: () => openSync(path.join(dir, oid), "wx"),
    close: (fd) => closeSync(fd),
  }));
  await store.writeBlobs(sinks);
  return new Map(oids.map((oid) => [oid, readFileSync(path.join(dir, oid))]));
}

describe("PackStore (fetched objects read from their packs, in process)", () => {
  let root: string;
  let ofs: string;
  let ref: string;
  let expected: Map<string, { type: string; data: Buffer }>;
  const run = () => ({ env: stagerGitEnv(gitEnv()), timeoutMs: 30_000 });

  beforeAll(async () => {
    root = await makeTempDir("pack-store-");
    // Files that change a little in every commit: git deltifies them against each other.
    const text = (i: number, n: number) =>
      Array.from(
        { length: n },
        (_, l) => `line ${l} of ${i % 3 === 0 ? "every" : "some"} version ${l % 7 === 0 ? i : 0}\n`,
      ).join("");
    const commits = Array.from({ length: 12 }, (_, i) => ({
      files: {
        "config.yaml": `name: t\nversion: ${i}\n`,
        "docs/guide.md": text(i, 400),
        "docs/big.txt": text(i, 30_000), // ~1 MiB+, rebuilt from deltas
        [`notes/n${i}.md`]: text(i, 20),
        "assets/random.bin": deterministicBytes(STREAM_BYTES * 2, "pack-store"), // whole, streamed
      },
    }));
    const repo = await createRepo(root, "acme/packs", commits);
    ofs = path.join(root, "ofs.git");
    initBare(ofs);
    git(["--git-dir", repo.dir, "repack", "-adf", "--window=50", "--depth=50"]);
    const pack = git(
      ["--git-dir", repo.dir, "pack-objects", "--all", "--stdout", "--delta-base-offset"],
      Buffer.alloc(0),
    );
    git(["--git-dir", ofs, "index-pack", "--stdin"], pack);
    // Without --delta-base-offset every delta names its base by id (REF_DELTA).
    ref = path.join(root, "ref.git");
    initBare(ref);
    git(
      ["--git-dir", ref, "index-pack", "--stdin"],
      git(["--git-dir", repo.dir, "pack-objects", "--all", "--stdout"], Buffer.alloc(0)),
    );
    expected = allObjects(ofs);
  }, 120_000);
  afterAll(() => removeDir(root));

  it("reads every object of an OFS_DELTA and of a REF_DELTA pack exactly as git does", async () => {
    for (const dir of [ofs, ref]) {
      expect(deltaCount(dir), dir).toBeGreaterThan(20);
      const store = PackStore.open(dir, () => new CatFile(dir, run(), "buffered"));
      if (!store) throw new Error("no store");
      for (const [oid, want] of expected) {
        const got = await store.read(oid, 1 << 30);
        expect(got?.type, oid).toBe(want.type);
        expect(got?.data.equals(want.data), `${oid} (${want.type})`).toBe(true);
        expect(await store.info(oid)).toBe(want.type);
      }
      expect(await store.read("0".repeat(40), 100)).toBeUndefined();
      await store.close();
    }
  });

  it("streams every blob into its file: whole ones in pieces, deltas rebuilt, or handed to git when large", async () => {
    const blobs = [...expected].filter(([, o]) => o.type === "blob").map(([oid]) => oid);
    let gitStarted = 0;
    // A 64 KiB limit sends the larger deltified blobs (docs/big.txt's versions) to cat-file.
    const store = PackStore.open(
      ofs,
      () => {
        gitStarted++;
        return new CatFile(ofs, run(), "buffered");
      },
      64 * 1024,
    );
    if (!store) throw new Error("no store");
    const written = await writeAll(store, path.join(root, "out"), blobs);
    await store.close();
    for (const oid of blobs)
      expect(written.get(oid)?.equals(expected.get(oid)?.data as Buffer), oid).toBe(true);
    expect(gitStarted).toBe(1);
  });

  it("refuses a size over the limit by name, and a tree asked for as a blob", async () => {
    const store = PackStore.open(ofs, () => new CatFile(ofs, run(), "buffered"));
    if (!store) throw new Error("no store");
    const [bigOid] = [...expected].find(([, o]) => o.type === "blob" && o.data.length > STREAM_BYTES) ?? [];
    await expect(store.read(bigOid as string, 4095)).rejects.toThrow(
      new RegExp(`object ${bigOid} \\(blob\\) is ${STREAM_BYTES * 2} bytes, more than 4095 allowed`),
    );
    const [treeOid] = [...expected].find(([, o]) => o.type === "tree") ?? [];
    await expect(
      store.writeBlobs([{ oid: treeOid as string, open: () => 0, close: () => {} }]),
    ).rejects.toThrow(/is a tree, not a blob/);
    await store.close();
  });

  it("leaves a repository with loose objects to git", async () => {
    const loose = path.join(root, "loose.git");
    initBare(loose);
    git(["--git-dir", loose, "hash-object", "-w", "--stdin"], Buffer.from("x\n"));
    expect(PackStore.open(loose, () => new CatFile(loose, run(), "buffered"))).toBeUndefined();
  });

  it("a damaged pack fails loudly; it never yields other bytes", async () => {
    const broken = path.join(root, "broken.git");
    initBare(broken);
    const packDir = path.join(ofs, "objects", "pack");
    for (const name of readdirSync(packDir))
      copyFileSync(path.join(packDir, name), path.join(broken, "objects", "pack", name));
    const packFile = readdirSync(path.join(broken, "objects", "pack")).find((n) =>
      n.endsWith(".pack"),
    ) as string;
    const bytes = readFileSync(path.join(broken, "objects", "pack", packFile));
    // Flip bytes all through the objects (not the header or the trailer).
    for (let at = 64; at < bytes.length - 64; at += 997) bytes[at] = (bytes[at] as number) ^ 0x5a;
    writeFileSync(path.join(broken, "objects", "pack", packFile), bytes);
    const store = PackStore.open(broken, () => new CatFile(broken, run(), "buffered"));
    if (!store) throw new Error("no store");
    let failed = 0;
    for (const [oid, want] of expected) {
      try {
        const got = await store.read(oid, 1 << 30);
        expect(got?.data.equals(want.data), oid).toBe(true);
      } catch {
        failed++;
      }
    }
    expect(failed).toBeGreaterThan(0);
    await store.close();
  });
});
