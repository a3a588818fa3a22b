// Template repositories shaped like the real ones (config.yaml / org.yaml / plugin.yaml, an
// executable script, a symlink, nested directories), each with two versions: A (first commit)
// and B (second commit), which differ in contents, paths, a file mode and a symlink target.

import { createRepo, type FileSpec, type RepoFixture } from "./git-fixtures";
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
