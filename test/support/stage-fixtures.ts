// Template repositories shaped like the real ones (config.yaml / org.yaml / plugin.yaml, an
// executable script, a symlink, nested directories), each with two versions: A (first commit)
// and B (second commit), which differ in contents, paths, a file mode and a symlink target.

import {
  BASE_EPOCH,
  createRepo,
  FIXTURE_IDENT,
  type FileSpec,
  type RepoFixture,
  repoDir,
  runGit,
} from "./git-fixtures";
import type { EntrySpec, List, ManifestSpec } from "./stage-cli";

export interface Template {
  list: List;
  name: string;
  repo: string;
  fixture: RepoFixture;
  /** Version A: the first commit (not the branch tip). */
  a: string;
  /** Version B: the second commit (the branch tip). */
  b: string;
  private?: boolean;
}

/** Bytes that a checkout could alter (CRLF, NUL, high bytes, no final newline): staged raw. */
const RAW = Buffer.from([0x00, 0x0d, 0x0a, 0xff, 0xfe, 0x41, 0x0d, 0x0a, 0x1b, 0x80]);

async function template(
  root: string,
  list: List,
  name: string,
  repo: string,
  a: Record<string, FileSpec>,
  b: { files?: Record<string, FileSpec>; delete?: string[] },
): Promise<Template> {
  const fixture = await createRepo(root, repo, [
    { message: "version A", files: a },
    { message: "version B", ...b },
  ]);
  const [shaA = "", shaB = ""] = fixture.shas;
  return { list, name, repo, fixture, a: shaA, b: shaB };
}

export interface TemplateSet {
  /** A workspace template with everything: exec bits, symlinks, binary data, deep dirs. */
  alpha: Template;
  /** `molecule-dev` is both an org template and a plugin (names are unique per list only). */
  orgDev: Template;
  plugDev: Template;
  extra: Template;
  all: Template[];
}

export async function createTemplateSet(root: string): Promise<TemplateSet> {
  const alpha = await template(
    root,
    "workspace_templates",
    "alpha-default",
    "acme/ws-alpha",
    {
      "config.yaml": "name: alpha\nruntime: claude-code\n",
      "mcp_servers.yaml": "servers: []\n",
      "prompts/concierge.md": "# Concierge\n",
      "identity-fallback.sh": { content: "#!/bin/sh\necho fallback A\n", mode: "755" },
      "tools/run.sh": { content: "#!/bin/sh\necho run\n", mode: "755" },
      "docs/config-link": { symlink: "../config.yaml" },
      "data/raw.bin": RAW,
      "deep/a/b/c/leaf.txt": "leaf\n",
      "only-in-a.txt": "gone in B\n",
    },
    {
      files: {
        "config.yaml": "name: alpha\nruntime: claude-code\nversion: 2\n",
        "identity-fallback.sh": { content: "#!/bin/sh\necho fallback B\n", mode: "755" },
        // Same content, exec bit dropped: only the mode changes.
        "tools/run.sh": { content: "#!/bin/sh\necho run\n", mode: "644" },
        "docs/config-link": { symlink: "../mcp_servers.yaml" },
        "data/raw.bin": Buffer.concat([RAW, RAW]),
        "only-in-b.txt": "new in B\n",
      },
      delete: ["only-in-a.txt"],
    },
  );
  const orgDev = await template(
    root,
    "org_templates",
    "molecule-dev",
    "acme/org-dev",
    { "org.yaml": "org: dev\n", "teams/core.yaml": "members: [a]\n" },
    { files: { "org.yaml": "org: dev\nrevision: 2\n" } },
  );
  const plugDev = await template(
    root,
    "plugins",
    "molecule-dev",
    "acme/plugin-dev",
    {
      "plugin.yaml": "plugin: dev\n",
      "bin/tool": { content: "#!/bin/sh\nexit 0\n", mode: "755" },
      "skills/x/SKILL.md": "skill\n",
    },
    { files: { "plugin.yaml": "plugin: dev\nrevision: 2\n" } },
  );
  const extra = await template(
    root,
    "plugins",
    "extra-tools",
    "acme/extra-tools",
    { "plugin.yaml": "plugin: extra\n", "README.md": "extra A\n" },
    { files: { "README.md": "extra B\n" } },
  );
  return { alpha, orgDev, plugDev, extra, all: [alpha, orgDev, plugDev, extra] };
}

/** A plain plugin repo (for tests that need many entries). */
export function createPlugin(root: string, name: string, repo = `acme/${name}`): Promise<Template> {
  return template(
    root,
    "plugins",
    name,
    repo,
    {
      "plugin.yaml": `plugin: ${name}\n`,
      "bin/run": { content: `#!/bin/sh\necho ${name}\n`, mode: "755" },
      "docs/readme-link": { symlink: "../plugin.yaml" },
      "notes/a.txt": `${name} A\n`,
    },
    {
      files: { "plugin.yaml": `plugin: ${name}\nrevision: 2\n`, "notes/b.txt": `${name} B\n` },
      delete: ["notes/a.txt"],
    },
  );
}

export type Version = "a" | "b";

export function entryOf(t: Template, version: Version | string = "a"): EntrySpec {
  const ref = version === "a" ? t.a : version === "b" ? t.b : version;
  const entry: EntrySpec = { name: t.name, repo: t.repo, ref };
  if (t.private) entry.private = true;
  return entry;
}

/** A manifest with each template at the given version (default A). */
export function manifestOf(
  templates: Template[],
  version: Version | ((t: Template) => Version) = "a",
): ManifestSpec {
  const spec: ManifestSpec = { plugins: [], workspace_templates: [], org_templates: [] };
  for (const t of templates) {
    spec[t.list]?.push(entryOf(t, typeof version === "function" ? version(t) : version));
  }
  return spec;
}

/**
 * One entry of a tree object written byte by byte, as no git porcelain would: any mode, any name
 * (`..`, `a/b`, duplicates), and an object id that may be absent or of another type.
 */
export type RawEntry =
  | { mode: string; name: string; content: string }
  | { mode: string; name: string; oid: string }
  | { mode: string; name: string; tree: RawEntry[] };

/**
 * A bare repository whose single commit has exactly the given (possibly malformed) tree, written with
 * `hash-object --literally`, which checks nothing. Returns the repository and the commit.
 */
export async function createRawRepo(
  root: string,
  repo: string,
  entries: RawEntry[],
): Promise<{ dir: string; sha: string }> {
  const dir = repoDir(root, repo);
  await runGit(["init", "--quiet", "--bare", "--template=", "--object-format=sha1", dir]);
  const git = async (args: string[], input?: Buffer | string) =>
    (await runGit(["--git-dir", dir, ...args], input === undefined ? {} : { input })).stdout.trim();
  const writeTree = async (list: RawEntry[]): Promise<string> => {
    const parts: Buffer[] = [];
    for (const e of list) {
      const oid =
        "oid" in e
          ? e.oid
          : "tree" in e
            ? await writeTree(e.tree)
            : await git(["hash-object", "-w", "--stdin"], e.content);
      parts.push(Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(oid, "hex"));
    }
    return git(["hash-object", "-w", "--literally", "-t", "tree", "--stdin"], Buffer.concat(parts));
  };
  const tree = await writeTree(entries);
  const [name = "", email = ""] = FIXTURE_IDENT.replace(">", "").split(" <");
  const when = `${BASE_EPOCH} +0000`;
  const commit = `tree ${tree}\nauthor ${name} <${email}> ${when}\ncommitter ${name} <${email}> ${when}\n\nraw tree\n`;
  const sha = await git(["hash-object", "-w", "-t", "commit", "--stdin"], commit);
  await git(["update-ref", "refs/heads/main", sha]);
  return { dir, sha };
}
