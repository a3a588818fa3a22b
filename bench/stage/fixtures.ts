/**
 * The bench's workload: one fixture repository per entry of the real manifest (same lists, names, repos
 * and runtimes, so the shape is the production one), pinned at each repository's head.
 *
 * Everything is derived from the entry's name with a seeded generator, so every machine builds the same
 * repositories with the same SHAs, and a result can be compared with anyone else's.
 */
import { readFile } from "node:fs/promises";
import pLimit from "p-limit";
import { LISTS, type ListName } from "../../lib/manifest/contract";
import {
  type CommitSpec,
  createLongHistoryRepo,
  createRepo,
  deterministicBytes,
  type FileSpec,
  runGit,
} from "../../test/support/git-fixtures";

/** The file that marks each kind of template repository. */
const KIND_FILE: Record<ListName, string> = {
  plugins: "plugin.yaml",
  workspace_templates: "config.yaml",
  org_templates: "org.yaml",
};

export interface RealEntry {
  name: string;
  repo: string;
  runtime?: string;
}

export interface FixtureOptions {
  /** Entries ("list/name") that get a long history carrying a large deleted file. */
  longHistory: readonly string[];
  longCommits: number;
  bigFileBytes: number;
}

export interface FixtureEntry {
  list: ListName;
  name: string;
  repo: string;
  runtime?: string;
  /** The pinned commit: the repository's head. */
  sha: string;
  long: boolean;
  commits: number;
  /** Files in the head tree. */
  files: number;
  /** Objects a full clone transfers (everything reachable), counted on the server's repository. */
  objectsAll: number;
  /** Objects a depth-1 fetch of `sha` transfers (the commit and its tree), counted the same way. */
  objectsHead: number;
}

export interface Fixtures {
  entries: FixtureEntry[];
  /** The manifest text handed to the CLI. */
  manifestText: string;
}

/** The real manifest's entries, list by list (full-line `//` comments stripped, as the old tooling did). */
export async function readRealManifest(file: string): Promise<Record<ListName, RealEntry[]>> {
  const text = (await readFile(file, "utf8"))
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("//"))
    .join("\n");
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const out = {} as Record<ListName, RealEntry[]>;
  for (const list of LISTS) {
    const raw = parsed[list];
    if (!Array.isArray(raw)) throw new Error(`${file}: "${list}" is not a list`);
    out[list] = raw.map((e: { name: string; repo: string; runtime?: string }) => ({
      name: e.name,
      repo: e.repo,
      ...(e.runtime ? { runtime: e.runtime } : {}),
    }));
  }
  return out;
}

/** mulberry32: tiny, seedable, and identical everywhere (Math.random is neither seedable nor stable). */
function rng(seed: string): () => number {
  let a = 0;
  for (const ch of seed) a = (Math.imul(a ^ ch.charCodeAt(0), 0x9e3779b1) + 0x7f4a7c15) | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  "agent template plugin workspace runtime config prompt skill review audit trail scope freeze " +
  "session context judge cron learnings vendor update docs retro triage browser identity compliance " +
  "security scan watchdog careful bash hitl organisation worker gemini concierge claude codex hermes"
).split(" ");

/** Prose-like text: compresses like real docs and YAML do, unlike random bytes. */
function text(rand: () => number, bytes: number, title: string): string {
  const lines = [`# ${title}`, ""];
  let size = lines[0]?.length ?? 0;
  while (size < bytes) {
    const n = 6 + Math.floor(rand() * 10);
    const line = Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(" ");
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join("\n")}\n`;
}

/**
 * A head tree shaped like a real template: the kind file, a README, docs and prompts, and a few
 * executable scripts. Sizes skew small: most repos have tens of files, a few have a few hundred.
 */
function headTree(list: ListName, name: string, rand: () => number): Record<string, FileSpec> {
  const files: Record<string, FileSpec> = {
    "README.md": text(rand, 1500, name),
    [KIND_FILE[list]]: `name: ${name}\nversion: 1\ndescription: ${text(rand, 120, name).split("\n")[2]}\n`,
  };
  if (list === "workspace_templates" && name === "platform-agent") {
    // The identity files Dockerfile.platform-agent bakes, so the staged tree has what that image needs.
    files["mcp_servers.yaml"] = "servers: []\n";
    files["prompts/concierge.md"] = text(rand, 3000, "concierge");
    files["identity-fallback.sh"] = {
      content: "#!/bin/sh\nset -eu\n# fill absent identity files\n",
      mode: "755",
    };
  }
  const count = 15 + Math.floor(rand() ** 2 * 285);
  const dirs = ["prompts", "skills", "docs", "hooks", "examples/basic", "examples/advanced"];
  for (let i = Object.keys(files).length; i < count; i++) {
    if (i % 17 === 0) {
      files[`scripts/run-${i}.sh`] = { content: `#!/bin/sh\n${text(rand, 300, `step ${i}`)}`, mode: "755" };
      continue;
    }
    const dir = dirs[Math.floor(rand() * dirs.length)];
    files[`${dir}/${name}-${i}.md`] = text(rand, 200 + Math.floor(rand() * 6000), `${name} ${i}`);
  }
  return files;
}

async function countObjects(dir: string, args: string[]): Promise<number> {
  const out = await runGit(["--git-dir", dir, "rev-list", "--objects", ...args]);
  return out.stdout.split("\n").filter(Boolean).length;
}

type Planned = RealEntry & { list: ListName };

/**
 * A short, ordinary history: an import, some edits, one deletion, so a full clone carries a little more
 * than the head tree, as real repos do.
 */
function shortHistory(tree: Record<string, FileSpec>, rand: () => number, name: string): CommitSpec[] {
  const paths = Object.keys(tree);
  const specs: CommitSpec[] = [{ message: "initial import", files: tree }];
  const n = 3 + Math.floor(rand() * 10);
  for (let c = 1; c < n; c++) {
    const p = paths[1 + Math.floor(rand() * (paths.length - 1))] ?? "README.md";
    const old = tree[p];
    if (typeof old === "string") specs.push({ files: { [p]: `${old}edit ${c}\n` } });
    else specs.push({ files: { [`notes/note-${c}.md`]: text(rand, 400, `note ${c}`) } });
  }
  specs.push({
    message: "drop scratch file",
    files: { "tmp/scratch.bin": deterministicBytes(4096, name) },
  });
  specs.push({ message: "cleanup", delete: ["tmp/scratch.bin"] });
  return specs;
}

/** One entry's repository, pinned at its head, with the counts the report needs. */
async function buildEntry(root: string, e: Planned, opts: FixtureOptions): Promise<FixtureEntry> {
  const rand = rng(`${e.list}/${e.name}`);
  const tree = headTree(e.list, e.name, rand);
  const long = opts.longHistory.includes(`${e.list}/${e.name}`);
  let r: { dir: string; shas: string[] };
  if (long) {
    // README.md, config.yaml and CHANGELOG.md come from the helper; the rest of the tree rides along.
    const { "README.md": _readme, "config.yaml": _config, ...extraFiles } = tree;
    r = await createLongHistoryRepo(root, e.repo, {
      commits: opts.longCommits,
      bigFileBytes: opts.bigFileBytes,
      extraFiles,
    });
  } else r = await createRepo(root, e.repo, shortHistory(tree, rand, e.name));
  const { dir } = r;
  const sha = r.shas.at(-1) ?? "";
  const files = (await runGit(["--git-dir", dir, "ls-tree", "-r", "--name-only", sha])).stdout
    .split("\n")
    .filter(Boolean).length;
  return {
    list: e.list,
    name: e.name,
    repo: e.repo,
    ...(e.runtime ? { runtime: e.runtime } : {}),
    sha,
    long,
    commits: r.shas.length,
    files,
    objectsAll: await countObjects(dir, ["--all"]),
    objectsHead: await countObjects(dir, ["--no-walk", sha]),
  };
}

/** The manifest handed to the CLI: every entry pinned at its fixture's head. */
function manifestText(entries: FixtureEntry[]): string {
  const manifest = {
    _comment:
      "Generated by bench/stage.ts: the real manifest's entries, pinned at the head of local fixture repositories.",
    version: 1,
    ...Object.fromEntries(
      LISTS.map((list) => [
        list,
        entries
          .filter((e) => e.list === list)
          .map((e) => ({
            name: e.name,
            repo: e.repo,
            ref: e.sha,
            ...(e.runtime ? { runtime: e.runtime } : {}),
          })),
      ]),
    ),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

export async function buildFixtures(
  root: string,
  real: Record<ListName, RealEntry[]>,
  opts: FixtureOptions,
): Promise<Fixtures> {
  const planned: Planned[] = LISTS.flatMap((list) => real[list].map((e) => ({ list, ...e })));
  const unknown = opts.longHistory.filter((l) => !planned.some((e) => `${e.list}/${e.name}` === l));
  if (unknown.length > 0) throw new Error(`long-history entries not in the manifest: ${unknown.join(", ")}`);
  // Two at a time: fast-import is single-threaded and the long repos dominate; more would only contend.
  const limit = pLimit(2);
  const entries = await Promise.all(planned.map((e) => limit(() => buildEntry(root, e, opts))));
  return { entries, manifestText: manifestText(entries) };
}
