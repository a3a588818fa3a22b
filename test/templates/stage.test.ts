// The stager CLI end to end over file://: layout, output contract, determinism, incremental runs
// and permanent errors. Every test runs `tsx cli/stage.ts` as a child process against real git
// repositories built by the fixtures; nothing is mocked.

import { execFileSync } from "node:child_process";
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  realpath,
  rm,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../../lib/manifest/contract";
import { statFingerprint } from "../../lib/templates/fingerprint";
import { SILENT_PROGRESS } from "../../lib/templates/progress";
import { StageError, stage as stageLib } from "../../lib/templates/stager";
import { createRepo, type FileSpec, makeTempDir, removeDir } from "../support/git-fixtures";
import {
  allPaths,
  createGitWrapper,
  diffAgainstCommit,
  entryDir,
  failedOutputOf,
  killLiveStages,
  LIST_DIRS,
  type List,
  leftovers,
  listing,
  type ManifestSpec,
  type OutputEntry,
  outputOf,
  runStage,
  type StageOptions,
  type StageOutput,
  type StageRun,
  snapshot,
  writeManifest,
} from "../support/stage-cli";
import {
  createRawRepo,
  createTemplateSet,
  entryOf,
  manifestOf,
  type RawEntry,
  type Template,
  type TemplateSet,
} from "../support/stage-fixtures";

const MISSING_SHA = "0123456789abcdef0123456789abcdef01234567";

let root: string;
let scratch: string;
let baseUrl: string;
let set: TemplateSet;
let noConfig: Template;
let linkUp: Template;
let linkAbs: Template;
let linkChain: Template;
let dirs = 0;

beforeAll(async () => {
  root = await makeTempDir("stage-repos-");
  scratch = await makeTempDir("stage-work-");
  baseUrl = `file://${root}`;
  set = await createTemplateSet(root);
  // A workspace template must carry config.yaml; this one has everything but.
  const nc = await createRepo(root, "acme/ws-noconfig", [
    { files: { "org.yaml": "not a workspace template\n", "plugin.yaml": "p\n" } },
  ]);
  noConfig = {
    list: "workspace_templates",
    name: "noconfig",
    repo: "acme/ws-noconfig",
    fixture: nc,
    a: nc.shas[0] ?? "",
    b: "",
  };
  const evil = async (repo: string, target: string): Promise<Template> => {
    const f = await createRepo(root, repo, [
      { files: { "plugin.yaml": "p\n", "docs/escape": { symlink: target } } },
    ]);
    return { list: "plugins", name: repo.split("/")[1] ?? "", repo, fixture: f, a: f.shas[0] ?? "", b: "" };
  };
  // docs/escape -> ../../etc/passwd leaves the entry by one level: normalised, it is "../etc/passwd".
  linkUp = await evil("acme/link-up", "../../etc/passwd");
  linkAbs = await evil("acme/link-abs", "/etc/passwd");
  // Each link is harmless on its own lexically: `up` climbs back to the entry root, and `escape`
  // normalises to "etc/passwd" inside the entry. On disk, `escape` walks through `up` (the entry
  // root) and then nine levels above it: /etc/passwd.
  const chain = await createRepo(root, "acme/link-chain", [
    {
      files: {
        "plugin.yaml": "p\n",
        "a/b/c/d/e/f/g/h/up": { symlink: "../../../../../../../.." },
        escape: { symlink: "a/b/c/d/e/f/g/h/up/../../../../../../../../../etc/passwd" },
      },
    },
  ]);
  linkChain = {
    list: "plugins",
    name: "link-chain",
    repo: "acme/link-chain",
    fixture: chain,
    a: chain.shas[0] ?? "",
    b: "",
  };
});

afterEach(killLiveStages);

afterAll(async () => {
  await Promise.all([root, scratch].filter(Boolean).map(removeDir));
});

/** A fresh directory for one test (all live under `scratch`, removed in afterAll). */
async function freshDir(label: string): Promise<string> {
  const dir = path.join(scratch, `${++dirs}-${label}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Writes the manifest next to dest and runs the CLI over file://, with fast retries. */
async function stage(
  dest: string,
  manifest: ManifestSpec,
  opts: StageOptions & { args?: string[] } = {},
): Promise<StageRun> {
  const file = await writeManifest(`${dest}.manifest-${++dirs}.json`, manifest);
  const args = ["--manifest", file, "--dest", dest, "--git-base-url", baseUrl, "--retry-delay-ms", "50"];
  return runStage([...args, ...(opts.args ?? [])], opts);
}

const byLabel = (entries: OutputEntry[]) =>
  Object.fromEntries(entries.map((e) => [`${e.list}/${e.name}`, e]));
const labelOf = (t: Template) => `${t.list}/${t.name}`;
const dirOf = (dest: string, t: Template) => entryDir(dest, t.list, t.name);
const SHA256 = /^sha256:[0-9a-f]{64}$/;

describe("happy path over file://", () => {
  it("stages each list into its directory, exactly as committed, and reports the contract's JSON", async () => {
    const dest = path.join(await freshDir("happy"), "deps");
    const run = await stage(dest, manifestOf(set.all, "a"));
    expect(run.code, run.stderr).toBe(0);

    // stdout is one JSON document with exactly these keys.
    const out = outputOf(run);
    expect(Object.keys(out).sort()).toEqual(["digest", "entries", "skipped"]);
    expect(out.digest).toMatch(SHA256);
    expect(out.skipped).toEqual([]);
    expect(out.entries).toHaveLength(set.all.length);
    for (const e of out.entries) {
      expect(Object.keys(e).sort()).toEqual(["action", "digest", "list", "name", "ref"]);
      expect(e.digest).toMatch(SHA256);
    }
    expect(byLabel(out.entries)).toEqual(
      Object.fromEntries(
        set.all.map((t) => [
          labelOf(t),
          { list: t.list, name: t.name, ref: t.a, digest: expect.stringMatching(SHA256), action: "fetched" },
        ]),
      ),
    );
    // Different trees, different digests (molecule-dev exists in two lists with different content).
    expect(new Set(out.entries.map((e) => e.digest)).size).toBe(set.all.length);

    // Layout: the three list directories and nothing else visible; entries by name inside.
    expect((await readdir(dest)).filter((n) => !n.startsWith(".")).sort()).toEqual(
      Object.values(LIST_DIRS).sort(),
    );
    for (const list of Object.keys(LIST_DIRS) as List[]) {
      const names = set.all.filter((t) => t.list === list).map((t) => t.name);
      expect((await readdir(path.join(dest, LIST_DIRS[list]))).sort()).toEqual(names.sort());
    }
    expect(
      await lstat(path.join(dest, "workspace-configs-templates", "alpha-default", "config.yaml")),
    ).toBeTruthy();

    // Contents byte-equal to the blobs, modes from git (0755 only for 100755), 0755 dirs, symlinks kept.
    for (const t of set.all)
      expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.a), labelOf(t)).toEqual([]);
    const link = path.join(dirOf(dest, set.alpha), "docs", "config-link");
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readFile(link, "utf8")).toBe("name: alpha\nruntime: claude-code\n");
    expect((await lstat(path.join(dirOf(dest, set.alpha), "identity-fallback.sh"))).mode & 0o777).toBe(0o755);
    expect((await lstat(path.join(dirOf(dest, set.alpha), "config.yaml"))).mode & 0o777).toBe(0o644);

    // No .git anywhere (it would carry history and credentials into the image), nor leftovers.
    expect((await allPaths(dest)).filter((p) => path.basename(p) === ".git")).toEqual([]);
    expect(await leftovers(dest)).toEqual([]);
    expect(run.stderr).toContain("fetched workspace_templates/alpha-default");
  });

  it("digests depend on the staged trees only: not on manifest order, and every version has its own", async () => {
    const dir = await freshDir("order");
    const forward = outputOf(await stage(path.join(dir, "forward"), manifestOf(set.all, "a")));
    const reversed = outputOf(
      await stage(path.join(dir, "reversed"), manifestOf([...set.all].reverse(), "a")),
    );
    expect(reversed.digest).toBe(forward.digest);
    const digestsOf = (o: typeof forward) =>
      Object.fromEntries(o.entries.map((e) => [`${e.list}/${e.name}`, e.digest]));
    expect(digestsOf(reversed)).toEqual(digestsOf(forward));

    // Version B of every entry: every per-entry digest and the overall digest change.
    const b = outputOf(await stage(path.join(dir, "b"), manifestOf(set.all, "b")));
    expect(b.digest).not.toBe(forward.digest);
    for (const t of set.all) expect(digestsOf(b)[labelOf(t)]).not.toBe(digestsOf(forward)[labelOf(t)]);

    // One entry different: the overall digest moves, the others' digests do not.
    const one = outputOf(
      await stage(
        path.join(dir, "one"),
        manifestOf(set.all, (t) => (t === set.extra ? "b" : "a")),
      ),
    );
    expect(one.digest).not.toBe(forward.digest);
    expect(one.digest).not.toBe(b.digest);
    for (const t of set.all) {
      expect(digestsOf(one)[labelOf(t)]).toBe(
        (t === set.extra ? digestsOf(b) : digestsOf(forward))[labelOf(t)],
      );
    }
  });
});

describe("determinism across umasks", () => {
  let loose: { dest: string; run: StageRun };
  let tight: { dest: string; run: StageRun };

  beforeAll(async () => {
    const dir = await freshDir("umask");
    const manifest = manifestOf(set.all, "a");
    // Staged one after the other: the two runs must not depend on each other in any way.
    loose = {
      dest: path.join(dir, "umask022"),
      run: await stage(path.join(dir, "umask022"), manifest, { umask: "022" }),
    };
    tight = {
      dest: path.join(dir, "umask077"),
      run: await stage(path.join(dir, "umask077"), manifest, { umask: "077" }),
    };
  });

  it("gives identical overall and per-entry digests and identical entry trees on disk", async () => {
    const a = outputOf(loose.run);
    const b = outputOf(tight.run);
    expect(b.digest).toBe(a.digest);
    expect(b.entries).toEqual(a.entries);
    for (const t of set.all) {
      expect(await snapshot(dirOf(tight.dest, t))).toEqual(await snapshot(dirOf(loose.dest, t)));
      // And the modes are the contract's, not merely equal to each other.
      expect(await diffAgainstCommit(dirOf(tight.dest, t), t.fixture.dir, t.a), labelOf(t)).toEqual([]);
    }
  });

  // BUG (documented, see report): the list directories are created with a plain mkdir, so they
  // get 0700 under umask 077. They are part of the Docker build context (COPY sources), so image
  // contents and cache keys then depend on the umask of whoever staged.
  it("creates the list directories with mode 0755 whatever the umask", async () => {
    const modes = async (dest: string) =>
      Object.fromEntries(
        await Promise.all(
          Object.values(LIST_DIRS).map(async (d) => [
            d,
            ((await lstat(path.join(dest, d))).mode & 0o7777).toString(8),
          ]),
        ),
      );
    const want = { "org-templates": "755", plugins: "755", "workspace-configs-templates": "755" };
    expect({ umask022: await modes(loose.dest), umask077: await modes(tight.dest) }).toEqual({
      umask022: want,
      umask077: want,
    });
  });
});

describe("the whole destination is the same for any umask", () => {
  it("dest itself, the list directories, every entry and .molecule-stage: same paths, modes and bytes under umask 000 and 077", async () => {
    const dir = await freshDir("umask-all");
    const manifest = manifestOf(set.all, "a");
    const runs: Record<string, string[]> = {};
    for (const umask of ["000", "077"]) {
      // dest does not exist yet: the stager creates it, under this umask.
      const dest = path.join(dir, `umask${umask}`, "deps");
      await mkdir(path.dirname(dest));
      outputOf(await stage(dest, manifest, { umask }));
      runs[umask] = await listing(dest);
    }
    expect(runs["077"]).toEqual(runs["000"]);
    // And the modes are fixed ones, not merely equal: 0755 dest and directories, 0644 bookkeeping.
    const lines = runs["000"] ?? [];
    expect(lines[0]).toMatch(/^d 755 \d+:\d+ \.$/);
    expect(
      lines.filter((l) => l.includes(" .molecule-stage")).map((l) => l.split(" ").slice(0, 2).join(" ")),
    ).toEqual(expect.arrayContaining(["d 755", "f 644"]));
    expect(lines.filter((l) => / \.molecule-stage/.test(l) && !/^(d 755|f 644) /.test(l))).toEqual([]);
  });
});

describe("incremental runs", () => {
  it("a warm run with nothing changed is all unchanged and runs no git at all", async () => {
    const dir = await freshDir("warm");
    const dest = path.join(dir, "deps");
    const git = await createGitWrapper(path.join(dir, "wrapper"));
    const manifest = manifestOf(set.all, "a");

    const cold = outputOf(await stage(dest, manifest, { pathPrefix: git.binDir }));
    // The wrapper really is the git the stager runs: the cold run went through it.
    const coldCalls = await git.calls();
    expect(coldCalls.some((c) => c.argv.includes("fetch"))).toBe(true);

    await git.clear();
    const warmRun = await stage(dest, manifest, { pathPrefix: git.binDir });
    const warm = outputOf(warmRun);
    expect(await git.calls()).toEqual([]);
    expect(warm.digest).toBe(cold.digest);
    expect(warm.entries).toEqual(cold.entries.map((e) => ({ ...e, action: "unchanged" })));
    expect(warmRun.stderr).toContain("unchanged plugins/molecule-dev");
  });

  it("a changed ref replaces the entry: new content in, old-only files out, others untouched", async () => {
    const dest = path.join(await freshDir("bump"), "deps");
    const before = outputOf(await stage(dest, manifestOf(set.all, "a")));
    const plugBefore = await snapshot(dirOf(dest, set.plugDev));

    const after = outputOf(
      await stage(
        dest,
        manifestOf(set.all, (t) => (t === set.alpha ? "b" : "a")),
      ),
    );
    const entries = byLabel(after.entries);
    expect(entries[labelOf(set.alpha)]).toMatchObject({ ref: set.alpha.b, action: "fetched" });
    expect(entries[labelOf(set.alpha)]?.digest).not.toBe(byLabel(before.entries)[labelOf(set.alpha)]?.digest);
    for (const t of [set.orgDev, set.plugDev, set.extra])
      expect(entries[labelOf(t)]?.action).toBe("unchanged");

    const alpha = dirOf(dest, set.alpha);
    // Exactly B: B-only file present, A-only file gone, exec bit dropped, link retargeted.
    expect(await diffAgainstCommit(alpha, set.alpha.fixture.dir, set.alpha.b)).toEqual([]);
    await expect(lstat(path.join(alpha, "only-in-a.txt"))).rejects.toThrow(/ENOENT/);
    expect(await readFile(path.join(alpha, "only-in-b.txt"), "utf8")).toBe("new in B\n");
    expect((await lstat(path.join(alpha, "tools", "run.sh"))).mode & 0o777).toBe(0o644);
    expect(await snapshot(dirOf(dest, set.plugDev))).toEqual(plugBefore);
    expect(await leftovers(dest)).toEqual([]);
  });

  it("an entry dropped from the manifest is deleted (action removed), and comes back when re-added", async () => {
    const dest = path.join(await freshDir("remove"), "deps");
    outputOf(await stage(dest, manifestOf(set.all, "a")));

    const without = outputOf(
      await stage(
        dest,
        manifestOf(
          set.all.filter((t) => t !== set.extra),
          "a",
        ),
      ),
    );
    expect(byLabel(without.entries)[labelOf(set.extra)]).toEqual({
      list: "plugins",
      name: "extra-tools",
      ref: set.extra.a,
      digest: null,
      action: "removed",
    });
    await expect(lstat(dirOf(dest, set.extra))).rejects.toThrow(/ENOENT/);
    expect(await readdir(path.join(dest, "plugins"))).toEqual(["molecule-dev"]);
    // The overall digest covers what is staged: now the same as a fresh stage of the smaller manifest.
    const fresh = outputOf(
      await stage(
        path.join(path.dirname(dest), "fresh"),
        manifestOf(
          set.all.filter((t) => t !== set.extra),
          "a",
        ),
      ),
    );
    expect(without.digest).toBe(fresh.digest);

    // Emptying a list removes its entries but keeps its directory (a COPY of a missing dir fails).
    const noPlugins = outputOf(await stage(dest, manifestOf([set.alpha, set.orgDev], "a")));
    expect(noPlugins.entries.filter((e) => e.action === "removed").map((e) => e.name)).toEqual([
      "molecule-dev",
    ]);
    expect(await readdir(path.join(dest, "plugins"))).toEqual([]);

    // No stale record survives the removal: re-adding the entry stages it again.
    const back = outputOf(await stage(dest, manifestOf(set.all, "a")));
    expect(byLabel(back.entries)[labelOf(set.extra)]?.action).toBe("fetched");
    expect(await diffAgainstCommit(dirOf(dest, set.extra), set.extra.fixture.dir, set.extra.a)).toEqual([]);
  });

  // A failed run may already have replaced and removed entries; the next run calls those unchanged (or
  // does not mention them), so the failed run's own document is the only record of what it did.
  it("a failed run still prints the document: what it fetched, kept and removed, and each failure with its error", async () => {
    const dest = path.join(await freshDir("failed-doc"), "deps");
    outputOf(await stage(dest, manifestOf(set.all, "a")));
    const manifest = manifestOf(
      set.all.filter((t) => t !== set.orgDev),
      (t) => (t === set.alpha ? "b" : "a"),
    );
    const extra = manifest.plugins?.find((e) => e.name === set.extra.name);
    if (extra) extra.ref = MISSING_SHA;

    const out = failedOutputOf(await stage(dest, manifest));
    // No overall digest: what is staged is not the manifest's.
    expect(out.digest).toBeNull();
    expect(out.skipped).toEqual([]);
    const entries = byLabel(out.entries);
    expect(Object.keys(entries).sort()).toEqual(
      [labelOf(set.alpha), labelOf(set.plugDev), labelOf(set.extra), labelOf(set.orgDev)].sort(),
    );
    expect(entries[labelOf(set.alpha)]).toMatchObject({ ref: set.alpha.b, action: "fetched" });
    expect(entries[labelOf(set.alpha)]?.digest).toMatch(SHA256);
    expect(entries[labelOf(set.plugDev)]).toMatchObject({ ref: set.plugDev.a, action: "unchanged" });
    expect(entries[labelOf(set.orgDev)]).toEqual({
      list: "org_templates",
      name: "molecule-dev",
      ref: set.orgDev.a,
      digest: null,
      action: "removed",
    });
    expect(entries[labelOf(set.extra)]).toEqual({
      list: "plugins",
      name: "extra-tools",
      ref: MISSING_SHA,
      digest: null,
      action: "failed",
      error: expect.stringContaining(`commit ${MISSING_SHA} does not exist in acme/extra-tools`),
    });
    // What it reported is what is on disk: the next run finds alpha's new tree as it said.
    expect(await diffAgainstCommit(dirOf(dest, set.alpha), set.alpha.fixture.dir, set.alpha.b)).toEqual([]);
    await expect(lstat(dirOf(dest, set.orgDev))).rejects.toThrow(/ENOENT/);
    const next = JSON.parse((await stage(dest, manifest)).stdout) as StageOutput;
    expect(byLabel(next.entries)[labelOf(set.alpha)]).toEqual({
      ...entries[labelOf(set.alpha)],
      action: "unchanged",
    });
  });

  it("a run that fails before staging anything (the lock held, a token missing) prints each entry as failed", async () => {
    const dest = path.join(await freshDir("failed-early"), "deps");
    const manifest = manifestOf([set.extra, set.plugDev], "a");
    outputOf(await stage(dest, manifest));
    // Held by a live process (this one): the run stages nothing.
    const lock = path.join(dest, ".molecule-stage", "lock");
    await writeFile(lock, JSON.stringify({ pid: process.pid, start: null }));
    const locked = failedOutputOf(await stage(dest, manifest));
    await rm(lock);
    expect(locked.digest).toBeNull();
    expect(locked.entries).toEqual(
      [set.extra, set.plugDev].map((t) => ({
        list: t.list,
        name: t.name,
        ref: t.a,
        digest: null,
        action: "failed",
        error: expect.stringContaining(`another stager (pid ${process.pid})`),
      })),
    );

    // The run that only reads: everything staged, and one entry now private without the token.
    const priv = manifestOf([set.extra, set.plugDev], "a");
    for (const e of priv.plugins ?? []) if (e.name === set.extra.name) e.private = true;
    const warm = failedOutputOf(await stage(dest, priv));
    expect(warm.digest).toBeNull();
    expect(byLabel(warm.entries)[labelOf(set.plugDev)]?.action).toBe("unchanged");
    expect(byLabel(warm.entries)[labelOf(set.extra)]).toMatchObject({
      action: "failed",
      digest: null,
      error: expect.stringContaining("MOLECULE_GITEA_TOKEN is not set"),
    });
  });

  it("a stray the stager cannot delete fails as that name, and the document still covers the rest", async (ctx) => {
    const dest = path.join(await freshDir("undeletable"), "deps");
    outputOf(await stage(dest, manifestOf([set.extra], "a")));
    const stray = path.join(dest, "plugins", ".hidden");
    await mkdir(stray);
    await writeFile(path.join(stray, "f"), "x\n");
    // A mount point cannot be renamed or removed, even by root: bind-mounted onto itself in a private
    // mount namespace, for the stager's process only.
    const wrap = [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount --bind "$0" "$0" && exec "$@"',
      stray,
    ];
    try {
      execFileSync(wrap[0] ?? "unshare", [...wrap.slice(1), "true"], { stdio: "ignore" });
    } catch {
      ctx.skip(); // no mount namespaces here
    }
    const out = failedOutputOf(await stage(dest, manifestOf([set.extra], "b"), { wrap }));
    expect(out.entries).toEqual([
      {
        list: "plugins",
        name: "extra-tools",
        ref: set.extra.b,
        digest: expect.stringMatching(SHA256),
        action: "fetched",
      },
      {
        list: "plugins",
        name: ".hidden",
        ref: null,
        digest: null,
        action: "failed",
        error: expect.stringContaining("not in the manifest, and it could not be deleted"),
      },
    ]);
    expect(await diffAgainstCommit(dirOf(dest, set.extra), set.extra.fixture.dir, set.extra.b)).toEqual([]);
    // Outside the namespace it is a plain directory again: the next run deletes it.
    outputOf(await stage(dest, manifestOf([set.extra], "b")));
    expect(await readdir(path.join(dest, "plugins"))).toEqual(["extra-tools"]);
  });

  describe("tampering", () => {
    const manifest = () => manifestOf([set.alpha, set.extra], "a");
    let pristineDest: string;
    let first: StageOutput;
    let pristine: string[];

    // One fresh stage; each case tampers with its own exact copy (cp -a keeps modes and links).
    beforeAll(async () => {
      pristineDest = path.join(await freshDir("pristine"), "deps");
      first = outputOf(await stage(pristineDest, manifest()));
      pristine = await snapshot(dirOf(pristineDest, set.alpha));
    });

    it.each(tampers)(
      "a tampered tree (%s) is detected and re-staged byte-identical",
      async (what, tamper) => {
        const dest = path.join(await freshDir("tamper"), "deps");
        execFileSync("cp", ["-a", pristineDest, dest]);
        const alpha = dirOf(dest, set.alpha);
        expect(await snapshot(alpha)).toEqual(pristine);
        await tamper(alpha);
        expect(await snapshot(alpha).catch(() => [])).not.toEqual(pristine);

        const run = await stage(dest, manifest());
        const again = outputOf(run);
        expect(byLabel(again.entries)[labelOf(set.alpha)]).toEqual({
          ...byLabel(first.entries)[labelOf(set.alpha)],
          action: "fetched",
        });
        expect(byLabel(again.entries)[labelOf(set.extra)]?.action).toBe("unchanged");
        expect(again.digest).toBe(first.digest);
        expect(await snapshot(alpha)).toEqual(pristine);
        expect(await diffAgainstCommit(alpha, set.alpha.fixture.dir, set.alpha.a)).toEqual([]);
        if (what !== "the entry directory deleted")
          expect(run.stderr).toMatch(/alpha-default: staged tree does not match/);
      },
    );
  });
});

/** Ways to tamper with a staged tree, each of which a warm run must notice. */
const tampers: Array<[string, (alpha: string) => Promise<void>]> = [
  ["a file edited", (d) => writeFile(path.join(d, "config.yaml"), "name: evil\n")],
  ["a file deleted", (d) => rm(path.join(d, "prompts", "concierge.md"))],
  ["a file added", (d) => writeFile(path.join(d, "prompts", "injected.md"), "hi\n")],
  ["a mode changed", (d) => chmod(path.join(d, "identity-fallback.sh"), 0o644)],
  ["a directory mode changed", (d) => chmod(path.join(d, "deep", "a"), 0o777)],
  [
    "a symlink retargeted",
    async (d) => {
      await rm(path.join(d, "docs", "config-link"));
      await symlink("../mcp_servers.yaml", path.join(d, "docs", "config-link"));
    },
  ],
  ["the entry directory deleted", (d) => rm(d, { recursive: true })],
];

describe("stat fingerprints: a warm run reads metadata, not contents", () => {
  const manifest = () => manifestOf([set.alpha, set.extra], "a");
  /** The user's cache, as MOLECULE_IMAGES_CACHE names it; HOME is /dev/null in these runs. */
  const withCache = async (label: string) => {
    const dir = await freshDir(label);
    const cache = path.join(dir, "cache");
    return { dest: path.join(dir, "deps"), cache, env: { MOLECULE_IMAGES_CACHE: cache } };
  };
  const cacheFile = async (cache: string) => {
    const dir = path.join(cache, "stage-fingerprints");
    const [name] = await readdir(dir);
    return path.join(dir, name as string);
  };

  it("the cold run records a fingerprint per entry in the cache, outside dest; the warm run is unchanged", async () => {
    const { dest, cache, env } = await withCache("fp-warm");
    const cold = outputOf(await stage(dest, manifest(), { env }));
    const recorded = JSON.parse(await readFile(await cacheFile(cache), "utf8"));
    expect(Object.keys(recorded.entries).sort()).toEqual([labelOf(set.alpha), labelOf(set.extra)].sort());
    for (const e of cold.entries) expect(recorded.entries[`${e.list}/${e.name}`].digest).toBe(e.digest);
    expect((await allPaths(dest)).some((p) => p.includes("fingerprint"))).toBe(false);
    const warm = outputOf(await stage(dest, manifest(), { env }));
    expect(warm.entries.map((e) => e.action)).toEqual(["unchanged", "unchanged"]);
  });

  // In place, not on a copy (a copy has new inodes, so no fingerprint holds for it and the tree is hashed).
  it.each([
    ...tampers,
    [
      "a same-size edit with its mtime set back",
      async (d: string) => {
        const file = path.join(d, "config.yaml");
        const { mtime } = await lstat(file);
        const before = await readFile(file, "utf8");
        await new Promise((r) => setTimeout(r, 20));
        await writeFile(
          file,
          before.replace(/./, (c) => (c === "x" ? "y" : "x")),
        );
        await utimes(file, mtime, mtime);
      },
    ] as [string, (alpha: string) => Promise<void>],
  ])("a tree tampered with in place (%s) is detected behind a recorded fingerprint", async (what, tamper) => {
    const { dest, env } = await withCache("fp-tamper");
    const first = outputOf(await stage(dest, manifest(), { env }));
    const alpha = dirOf(dest, set.alpha);
    const pristine = await snapshot(alpha);
    await new Promise((r) => setTimeout(r, 20));
    await tamper(alpha);
    const run = await stage(dest, manifest(), { env });
    const again = outputOf(run);
    expect(byLabel(again.entries)[labelOf(set.alpha)]?.action, what).toBe("fetched");
    expect(byLabel(again.entries)[labelOf(set.extra)]?.action).toBe("unchanged");
    expect(again.digest).toBe(first.digest);
    expect(await snapshot(alpha)).toEqual(pristine);
  });

  it("trusts the recorded fingerprint; --verify-contents hashes every file and finds what it hides", async () => {
    const { dest, cache, env } = await withCache("fp-forged");
    const first = outputOf(await stage(dest, manifest(), { env }));
    const alpha = dirOf(dest, set.alpha);
    await writeFile(path.join(alpha, "config.yaml"), "name: edited behind the cache's back\n");
    // Re-record the edited tree's fingerprint against the old digest: only a root user forging the cache
    // (or the clock) gets here. The default run believes it, which shows it read no file's contents.
    const file = await cacheFile(cache);
    const doc = JSON.parse(await readFile(file, "utf8"));
    doc.entries[labelOf(set.alpha)].stat = statFingerprint(alpha);
    await writeFile(file, JSON.stringify(doc));
    const trusting = outputOf(await stage(dest, manifest(), { env }));
    expect(byLabel(trusting.entries)[labelOf(set.alpha)]?.action).toBe("unchanged");

    const verifying = await stage(dest, manifest(), { env, args: ["--verify-contents"] });
    expect(byLabel(outputOf(verifying).entries)[labelOf(set.alpha)]?.action).toBe("fetched");
    expect(verifying.stderr).toMatch(/alpha-default: staged tree does not match/);
    expect(outputOf(verifying).digest).toBe(first.digest);
  });
});

describe("permanent errors", () => {
  it("a missing SHA and a missing repo fail once each, named with list/name, repo and ref; the rest is staged", async () => {
    const dir = await freshDir("missing");
    const dest = path.join(dir, "deps");
    const git = await createGitWrapper(path.join(dir, "wrapper"));
    const manifest = manifestOf(set.all, "a");
    manifest.plugins?.push(
      { name: "ghost-sha", repo: set.extra.repo, ref: MISSING_SHA },
      { name: "ghost-repo", repo: "acme/does-not-exist", ref: set.extra.a },
    );
    const run = await stage(dest, manifest, { pathPrefix: git.binDir });
    expect(run.code, run.stderr).toBe(1);

    expect(run.stderr).toContain(
      `plugins/ghost-sha (acme/extra-tools @ ${MISSING_SHA}): commit ${MISSING_SHA} does not exist`,
    );
    expect(run.stderr).toMatch(
      new RegExp(
        `plugins/ghost-repo \\(acme/does-not-exist @ ${set.extra.a}\\): repository \\S*acme/does-not-exist\\.git not found`,
      ),
    );
    // Permanent failures are not retried: one fetch each, and no retry note.
    const fetches = (await git.calls()).filter((c) => c.argv.includes("fetch"));
    expect(fetches.filter((c) => c.argv.includes(MISSING_SHA))).toHaveLength(1);
    expect(fetches.filter((c) => c.argv.some((a) => a.endsWith("/acme/does-not-exist.git")))).toHaveLength(1);
    expect(run.stderr).not.toMatch(/retrying/);

    // The other entries were still staged, completely; the failed ones left nothing behind.
    for (const t of set.all)
      expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.a), labelOf(t)).toEqual([]);
    expect((await readdir(path.join(dest, "plugins"))).sort()).toEqual(["extra-tools", "molecule-dev"]);
    expect(await leftovers(dest)).toEqual([]);
  });

  it("a workspace template without config.yaml fails naming the entry and config.yaml (plugins need none)", async () => {
    const dest = path.join(await freshDir("noconfig"), "deps");
    const run = await stage(dest, {
      workspace_templates: [entryOf(noConfig)],
      // The same commit is a valid plugin: the requirement belongs to the workspace template list.
      plugins: [{ ...entryOf(noConfig), name: "noconfig-as-plugin" }],
    });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      new RegExp(`workspace_templates/noconfig \\(acme/ws-noconfig @ ${noConfig.a}\\): .*config\\.yaml`),
    );
    await expect(lstat(dirOf(dest, noConfig))).rejects.toThrow(/ENOENT/);
    expect(await readdir(path.join(dest, "plugins"))).toEqual(["noconfig-as-plugin"]);
  });

  it("rejects symlinks that point outside their entry, relative (../../etc/passwd) or absolute", async () => {
    const dest = path.join(await freshDir("links"), "deps");
    const run = await stage(dest, { plugins: [entryOf(linkUp), entryOf(linkAbs), entryOf(set.extra)] });
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /plugins\/link-up \(acme\/link-up @ [0-9a-f]{40}\): .*docs\/escape.*\.\.\/\.\.\/etc\/passwd/,
    );
    expect(run.stderr).toMatch(
      /plugins\/link-abs \(acme\/link-abs @ [0-9a-f]{40}\): .*docs\/escape.*\/etc\/passwd/,
    );
    expect(await readdir(path.join(dest, "plugins"))).toEqual(["extra-tools"]);
  });

  // BUG (documented, see report): the containment check normalises each link target lexically and
  // ignores that an earlier path component may itself be a symlink. Staged today: `escape`
  // resolves to /etc/passwd.
  it("rejects a symlink that escapes its entry through another in-tree symlink", async () => {
    const dest = path.join(await freshDir("chain"), "deps");
    const run = await stage(dest, { plugins: [entryOf(linkChain)] });
    const link = path.join(dirOf(dest, linkChain), "escape");
    const resolved = await realpath(link).catch(() => "(not staged)");
    expect({ code: run.code, resolved }).toEqual({ code: 1, resolved: "(not staged)" });
    expect(run.stderr).toMatch(/plugins\/link-chain .*escape/);
  });

  it("--quiet silences progress but not warnings or failures", async () => {
    const dir = await freshDir("quiet");
    const ok = await stage(path.join(dir, "ok"), manifestOf([set.extra], "a"), { args: ["--quiet"] });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe("");
    expect(outputOf(ok).entries).toHaveLength(1);
    // A skipped private entry is something to act on: its warning survives --quiet.
    const skipped = await stage(
      path.join(dir, "skip"),
      { plugins: [{ ...entryOf(set.extra), name: "private-one", private: true }] },
      { args: ["--quiet", "--allow-missing-private"] },
    );
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stderr).toMatch(/warning: plugins\/private-one: skipped/);
    const bad = await stage(
      path.join(dir, "bad"),
      { plugins: [{ ...entryOf(set.extra), ref: MISSING_SHA }] },
      {
        args: ["--quiet"],
      },
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`plugins/extra-tools (acme/extra-tools @ ${MISSING_SHA})`);
  });

  // The failure used to come twice: as it happened (progress) and again in the closing summary.
  it.each([[[]], [["--quiet"]]])("each failure is printed once on stderr (flags: %j)", async (flags) => {
    const dir = await freshDir("once");
    const count = (text: string, needle: string) => text.split(needle).length - 1;
    const broken: ManifestSpec = {
      plugins: [
        { name: "ghost-sha", repo: set.extra.repo, ref: MISSING_SHA },
        { name: "ghost-repo", repo: "acme/does-not-exist", ref: set.extra.a },
        { ...entryOf(set.plugDev), private: true },
        entryOf(set.extra),
      ],
    };
    const run = await stage(path.join(dir, "cold"), broken, { args: flags });
    expect(run.code, run.stderr).toBe(1);
    for (const name of ["ghost-sha", "ghost-repo", "molecule-dev"])
      expect(count(run.stderr, `plugins/${name}`), `${name}:\n${run.stderr}`).toBe(1);
    expect(count(run.stderr, `commit ${MISSING_SHA} does not exist`), run.stderr).toBe(1);
    expect(count(run.stderr, "acme/does-not-exist.git not found"), run.stderr).toBe(1);
    expect(count(run.stderr, "MOLECULE_GITEA_TOKEN is not set"), run.stderr).toBe(1);

    // The same from a run that reads only (everything staged, only the token missing now).
    const warm = path.join(dir, "warm");
    const priv = { plugins: [{ ...entryOf(set.plugDev), private: true }, entryOf(set.extra)] };
    outputOf(await stage(warm, priv, { env: { MOLECULE_GITEA_TOKEN: "file-urls-ignore-it" } }));
    const again = await stage(warm, priv, { args: flags });
    expect(again.code, again.stderr).toBe(1);
    expect(count(again.stderr, "plugins/molecule-dev"), again.stderr).toBe(1);
    expect(count(again.stderr, "MOLECULE_GITEA_TOKEN is not set"), again.stderr).toBe(1);
  });

  const badManifests: Array<[string, string, RegExp]> = [
    [
      "a branch name as ref",
      JSON.stringify({
        version: 1,
        plugins: [{ name: "p", repo: "o/p", ref: "main" }],
        workspace_templates: [],
        org_templates: [],
      }),
      /plugins\[0\] \(p\): ref: expected a full 40-character lowercase hex commit SHA/,
    ],
    ["broken JSON", '{ "version": 1, "plugins": [', /not valid JSON/],
  ];

  it.each(badManifests)(
    "an invalid manifest (%s) exits 2 with the manifest error, staging nothing",
    async (_, text, message) => {
      const dir = await freshDir("badmanifest");
      const file = path.join(dir, "manifest.json");
      await writeFile(file, text);
      const dest = path.join(dir, "deps");
      const run = await runStage(["--manifest", file, "--dest", dest, "--git-base-url", baseUrl]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toContain(file);
      expect(run.stdout).toBe("");
      await expect(lstat(dest)).rejects.toThrow(/ENOENT/);
    },
  );

  const badUsage: Array<[string, string[], RegExp]> = [
    [
      "an unknown flag",
      ["--manifest", "m.json", "--dest", "d", "--frobnicate"],
      /Unknown option '--frobnicate'/,
    ],
    ["no --dest", ["--manifest", "m.json"], /--manifest and --dest are required/],
    ["no --manifest", ["--dest", "d"], /--manifest and --dest are required/],
    [
      "--concurrency 0",
      ["--manifest", "m.json", "--dest", "d", "--concurrency", "0"],
      /--concurrency: expected an integer >= 1/,
    ],
    [
      "a missing manifest file",
      ["--manifest", "/nonexistent/m.json", "--dest", "d"],
      /cannot read manifest: ENOENT/,
    ],
  ];

  it.each(badUsage)("bad usage (%s) exits 2", async (_, args, message) => {
    const run = await runStage(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe("");
  });
});

describe("the stager manages only a destination it owns", () => {
  it("refuses `--dest .` in a directory it did not stage (an existing plugins/ folder): exit 2, nothing touched", async () => {
    const dest = await freshDir("foreign");
    await mkdir(path.join(dest, "plugins", "mine"), { recursive: true });
    await writeFile(path.join(dest, "plugins", "mine", "keep.txt"), "mine\n");
    await writeFile(path.join(dest, "plugins", ".DS_Store"), "finder\n");
    await writeFile(path.join(dest, "README.md"), "my project\n");
    const before = await listing(dest, { times: true });
    const file = await writeManifest(`${dest}.manifest.json`, manifestOf(set.all, "a"));
    const run = await runStage(["--manifest", file, "--dest", ".", "--git-base-url", baseUrl], { cwd: dest });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(dest);
    expect(run.stderr).toMatch(/not empty and is not a staging destination/);
    expect(await listing(dest, { times: true })).toEqual(before);
  });

  const foreign: Array<[string, (dest: string) => Promise<void>, RegExp]> = [
    ["a regular file", (d) => writeFile(d, "not a directory\n"), /is not a directory/],
    [
      "a directory staged by an older stager (.molecule-stage without the owner marker)",
      async (d) => {
        await mkdir(path.join(d, ".molecule-stage", "plugins"), { recursive: true });
        await mkdir(path.join(d, "plugins", "old"), { recursive: true });
      },
      /no \.molecule-stage\/owner marker/,
    ],
    [
      "a directory whose .molecule-stage is a symlink",
      async (d) => {
        await mkdir(path.join(d, "real-state"), { recursive: true });
        await writeFile(path.join(d, "real-state", "owner"), "anything\n");
        await symlink("real-state", path.join(d, ".molecule-stage"));
      },
      /not a staging destination/,
    ],
  ];

  it.each(foreign)("refuses a destination that is %s: exit 2, nothing touched", async (_, make, message) => {
    const dest = path.join(await freshDir("foreign-kind"), "deps");
    await make(dest);
    const before = await listing(dest, { times: true });
    const run = await stage(dest, manifestOf([set.extra], "a"));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(dest);
    expect(run.stderr).toMatch(message);
    expect(await listing(dest, { times: true })).toEqual(before);
  });

  it("takes an empty directory (and one where only its own half-written bookkeeping exists) as its own", async () => {
    const dir = await freshDir("adopt");
    const empty = path.join(dir, "empty");
    await mkdir(empty);
    const half = path.join(dir, "half");
    await mkdir(path.join(half, ".molecule-stage"), { recursive: true });
    for (const dest of [empty, half]) {
      const out = outputOf(await stage(dest, manifestOf([set.extra], "a")));
      expect(out.entries.map((e) => e.action)).toEqual(["fetched"]);
      // And it is now a destination the stager owns: a later run accepts it.
      expect(outputOf(await stage(dest, manifestOf([set.extra], "a"))).entries[0]?.action).toBe("unchanged");
    }
  });

  const links: Array<[string, string, (dest: string, outside: string) => Promise<void>]> = [
    [
      "a list directory",
      "plugins",
      async (dest, outside) => {
        await rm(path.join(dest, "plugins"), { recursive: true });
        await symlink(outside, path.join(dest, "plugins"));
      },
    ],
    [
      "an entry",
      "extra-tools",
      async (dest, outside) => {
        // The very tree that was staged, moved out of dest: hashing through the link would match.
        execFileSync("cp", ["-a", path.join(dest, "plugins", "extra-tools", "."), outside]);
        await rm(path.join(dest, "plugins", "extra-tools"), { recursive: true });
        await symlink(outside, path.join(dest, "plugins", "extra-tools"));
      },
    ],
    [
      "a stray name in a list directory",
      "stray",
      (dest, outside) => symlink(outside, path.join(dest, "plugins", "stray")),
    ],
    [
      "a bookkeeping directory",
      "plugins",
      async (dest, outside) => {
        await rm(path.join(dest, ".molecule-stage", "plugins"), { recursive: true });
        await symlink(outside, path.join(dest, ".molecule-stage", "plugins"));
      },
    ],
  ];

  it.each(links)(
    "refuses a destination where %s is a symlink out of it: exit 2, nothing inside or outside touched",
    async (_, name, link) => {
      const dir = await freshDir("symlinked");
      const dest = path.join(dir, "deps");
      outputOf(await stage(dest, manifestOf([set.extra, set.plugDev], "a")));
      const outside = path.join(dir, "outside");
      await mkdir(path.join(outside, "precious-dir"), { recursive: true });
      await writeFile(path.join(outside, "precious.txt"), "not the stager's\n");
      await writeFile(path.join(outside, "other.json"), "{}\n");
      await chmod(outside, 0o700);
      await link(dest, outside);
      const before = {
        dest: await listing(dest, { times: true }),
        outside: await listing(outside, { times: true }),
      };
      // The manifest drops plugin-dev, so a run that followed the link would delete in it.
      const run = await stage(dest, manifestOf([set.extra], "a"));
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`${name}.*is a symlink`));
      expect(run.stderr).toContain(dest);
      expect({
        dest: await listing(dest, { times: true }),
        outside: await listing(outside, { times: true }),
      }).toEqual(before);
    },
  );

  it("leaves each list directory holding exactly the manifest's entries: stray files and dot-entries go", async () => {
    const dest = path.join(await freshDir("strays"), "deps");
    const manifest = manifestOf(set.all, "a");
    outputOf(await stage(dest, manifest));
    await writeFile(path.join(dest, "plugins", ".DS_Store"), "finder\n");
    await mkdir(path.join(dest, "org-templates", ".hidden", "deep"), { recursive: true });
    await writeFile(path.join(dest, "org-templates", ".hidden", "deep", "x"), "x\n");
    await writeFile(path.join(dest, "workspace-configs-templates", "notes.txt"), "notes\n");
    await mkdir(path.join(dest, "workspace-configs-templates", "by-hand"));
    await writeFile(path.join(dest, ".molecule-stage", "plugins", "stray.json"), "{}\n");

    const out = outputOf(await stage(dest, manifest));
    for (const list of Object.keys(LIST_DIRS) as List[]) {
      const names = set.all.filter((t) => t.list === list).map((t) => t.name);
      expect((await readdir(path.join(dest, LIST_DIRS[list]))).sort(), list).toEqual(names.sort());
      expect((await readdir(path.join(dest, ".molecule-stage", list))).sort(), list).toEqual(
        names.map((n) => `${n}.json`).sort(),
      );
    }
    for (const t of set.all) expect(byLabel(out.entries)[labelOf(t)]?.action).toBe("unchanged");
    // Non-dot strays are reported as removed, as before; the staged digest is unaffected.
    expect(out.entries.filter((e) => e.action === "removed").map((e) => `${e.list}/${e.name}`)).toEqual([
      "workspace_templates/by-hand",
      "workspace_templates/notes.txt",
    ]);
    expect(await leftovers(dest)).toEqual([]);
  });

  it("a failed run too leaves each list directory holding exactly the manifest's entries", async () => {
    const dest = path.join(await freshDir("strays-failed"), "deps");
    outputOf(await stage(dest, manifestOf(set.all, "a")));
    await writeFile(path.join(dest, "plugins", ".DS_Store"), "finder\n");
    await mkdir(path.join(dest, "plugins", ".hidden", "deep"), { recursive: true });
    await writeFile(path.join(dest, "plugins", ".hidden", "deep", "x"), "x\n");
    await writeFile(path.join(dest, "workspace-configs-templates", ".DS_Store"), "finder\n");
    const manifest = manifestOf(set.all, "a");
    manifest.plugins?.push({ name: "ghost-sha", repo: set.extra.repo, ref: MISSING_SHA });

    const out = failedOutputOf(await stage(dest, manifest));
    expect(byLabel(out.entries)["plugins/ghost-sha"]?.action).toBe("failed");
    for (const list of Object.keys(LIST_DIRS) as List[]) {
      const names = set.all.filter((t) => t.list === list).map((t) => t.name);
      expect((await readdir(path.join(dest, LIST_DIRS[list]))).sort(), list).toEqual(names.sort());
    }
  });
});

describe("a run that changes nothing writes nothing", () => {
  const manifest = () => manifestOf(set.all, "a");
  let dest: string;

  beforeAll(async () => {
    dest = path.join(await freshDir("readonly"), "deps");
    outputOf(await stage(dest, manifest()));
  });

  const expectWarm = (run: StageRun) => {
    const out = outputOf(run);
    expect(out.entries.map((e) => e.action)).toEqual(set.all.map(() => "unchanged"));
    return out;
  };

  // Tests run as root, and root ignores permission bits: so watch for writes directly. A chmod, chown,
  // rename, create, delete or write anywhere under dest moves some path's ctime (or mtime).
  it("no path under dest, dest included, changes mode, owner, content, mtime or ctime", async () => {
    const before = await listing(dest, { times: true });
    expectWarm(await stage(dest, manifest()));
    expect(await listing(dest, { times: true })).toEqual(before);
  });

  it("succeeds on a read-only mount of dest (EROFS even for root)", async (ctx) => {
    // A private mount namespace: the read-only bind mount exists for the stager's process only.
    const wrap = [
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"',
      dest,
    ];
    try {
      const probe = path.dirname(dest);
      execFileSync(
        "unshare",
        [...wrap.slice(1, -1), probe, "sh", "-c", '! touch "$0/probe" 2>/dev/null', probe],
        {
          stdio: "ignore",
        },
      );
    } catch {
      ctx.skip(); // no mount namespaces here; the ctime test above still proves no write happens
    }
    const run = await stage(dest, manifest(), { wrap });
    expect(run.code, run.stderr).toBe(0);
    expectWarm(run);
  });

  it("succeeds for a user who cannot write to dest (uid 65534)", async (ctx) => {
    const wrap = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    try {
      execFileSync(wrap[0] ?? "", [...wrap.slice(1), "true"], { stdio: "ignore" });
    } catch {
      ctx.skip();
    }
    // The user must be able to read dest and the manifest, and run tsx (its cache is per uid).
    await chmod(scratch, 0o755);
    await chmod(path.dirname(dest), 0o755);
    const run = await stage(dest, manifest(), { wrap });
    expect(run.code, run.stderr).toBe(0);
    expectWarm(run);
  });
});

describe("required files must be regular files", () => {
  const cases: Array<[string, Record<string, FileSpec>, RegExp]> = [
    ["a dangling symlink", { "config.yaml": { symlink: "nowhere.yaml" } }, /config\.yaml.*symlink/],
    [
      "a symlink to a directory",
      { "config.yaml": { symlink: "conf" }, "conf/x.yaml": "x: 1\n" },
      /config\.yaml.*symlink/,
    ],
    ["a directory", { "config.yaml/x.yaml": "x: 1\n" }, /config\.yaml.*directory/],
  ];

  it.each(cases)(
    "config.yaml as %s fails the workspace template, naming config.yaml",
    async (what, files, message) => {
      const repo = `acme/ws-cfg-${what.replace(/\W+/g, "-")}`;
      const fixture = await createRepo(root, repo, [{ files: { "README.md": "r\n", ...files } }]);
      const t: Template = {
        list: "workspace_templates",
        name: "cfg",
        repo,
        fixture,
        a: fixture.shas[0] ?? "",
        b: "",
      };
      const dest = path.join(await freshDir("cfg"), "deps");
      const run = await stage(dest, {
        workspace_templates: [entryOf(t)],
        plugins: [{ ...entryOf(t), name: "cfg-plugin" }],
      });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(
        new RegExp(`workspace_templates/cfg \\(${repo} @ ${t.a}\\): .*not a regular file`),
      );
      expect(run.stderr).toMatch(message);
      await expect(lstat(dirOf(dest, t))).rejects.toThrow(/ENOENT/);
      // Plugins require nothing: the same commit stages there.
      expect(await readdir(path.join(dest, "plugins"))).toEqual(["cfg-plugin"]);
    },
  );
});

describe("precise failures", () => {
  const ZERO_OID = "1234567890123456789012345678901234567890";
  const crafted: Array<[string, RawEntry[], RegExp]> = [
    [
      "a blob entry whose object is a tree",
      [
        { mode: "100644", name: "config.yaml", content: "c\n" },
        { mode: "100644", name: "notes", tree: [{ mode: "100644", name: "f", content: "f\n" }] },
      ],
      /notes: .*is a tree, not a blob/,
    ],
    [
      "a name with a slash",
      [
        { mode: "100644", name: "config.yaml", content: "c\n" },
        { mode: "100644", name: "a/b", content: "x\n" },
      ],
      /a\/b: .*name.*'\/'/,
    ],
    [
      "a '..' directory",
      [
        { mode: "100644", name: "config.yaml", content: "c\n" },
        { mode: "40000", name: "..", tree: [{ mode: "100644", name: "f", content: "f\n" }] },
      ],
      /\.\.: .*name '\.\.'/,
    ],
    [
      "the same name twice",
      [
        { mode: "100644", name: "config.yaml", content: "c\n" },
        { mode: "100644", name: "config.yaml", content: "d\n" },
      ],
      /config\.yaml: .*twice/,
    ],
    [
      "an unknown mode",
      [
        { mode: "100644", name: "config.yaml", content: "c\n" },
        { mode: "100600", name: "weird", content: "w\n" },
      ],
      /weird: .*mode 100600/,
    ],
    [
      "a submodule as the required file",
      [{ mode: "160000", name: "config.yaml", oid: ZERO_OID }],
      /config\.yaml.*submodule/,
    ],
  ];

  it.each(crafted)(
    "a crafted tree (%s) fails the entry, saying what is wrong with which path",
    async (what, tree, message) => {
      const repo = `acme/raw-${what.replace(/\W+/g, "-")}`;
      const raw = await createRawRepo(root, repo, tree);
      const dest = path.join(await freshDir("raw"), "deps");
      const run = await stage(dest, {
        workspace_templates: [{ name: "raw", repo, ref: raw.sha }],
        plugins: [entryOf(set.extra)],
      });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`workspace_templates/raw \\(${repo} @ ${raw.sha}\\): `));
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/missing after fetch|blob [0-9a-f]{40} missing/);
      await expect(lstat(path.join(dest, "workspace-configs-templates", "raw"))).rejects.toThrow(/ENOENT/);
      expect(await readdir(path.join(dest, "plugins"))).toEqual(["extra-tools"]);
      expect(await leftovers(dest)).toEqual([]);
    },
  );

  // Called as a library, not through the CLI: what the manifest accepts as a name is the manifest's
  // business; what the stager does with a name the file system refuses is this test's.
  const manifestWith = (name: string): Manifest => ({
    version: 1,
    plugins: [
      { name, repo: set.extra.repo, ref: set.extra.a },
      { name: "ok", repo: set.extra.repo, ref: set.extra.a },
    ],
    workspace_templates: [],
    org_templates: [],
  });

  it.each([245, 300])(
    "an entry name of %i bytes, too long for the file system, fails that entry naming it and ENAMETOOLONG",
    async (length) => {
      const dest = path.join(await freshDir("long-name"), "deps");
      const name = "n".repeat(length);
      const err = await stageLib({
        manifest: manifestWith(name),
        dest,
        gitBaseUrl: baseUrl,
        progress: SILENT_PROGRESS,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StageError);
      const failures = (err as StageError).failures;
      expect(failures.map((f) => f.name)).toEqual([name]);
      expect(failures[0]?.message).toMatch(/too long for the file system \(ENAMETOOLONG\)/);
      expect((err as StageError).message).toContain(`plugins/${name} (`);
      expect(await readdir(path.join(dest, "plugins"))).toEqual(["ok"]);
      expect(await readdir(path.join(dest, ".molecule-stage", "plugins"))).toEqual(["ok.json"]);
    },
  );

  it("an entry name that fits with the stager's working names is staged and recorded (240 bytes)", async () => {
    const dest = path.join(await freshDir("long-ok"), "deps");
    const name = "n".repeat(240);
    const first = await stageLib({
      manifest: manifestWith(name),
      dest,
      gitBaseUrl: baseUrl,
      progress: SILENT_PROGRESS,
    });
    expect(first.entries.map((e) => e.action)).toEqual(["fetched", "fetched"]);
    const again = await stageLib({
      manifest: manifestWith(name),
      dest,
      gitBaseUrl: baseUrl,
      progress: SILENT_PROGRESS,
    });
    expect(again.entries.map((e) => e.action)).toEqual(["unchanged", "unchanged"]);
    expect(await leftovers(dest)).toEqual([]);
  });
});
