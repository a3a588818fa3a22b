/**
 * What `npm run build` compiled, per source file (size, mtime and a hash of its contents), so a command can
 * tell in a few milliseconds whether dist/ still matches the sources. Size and mtime are the fast path (a
 * stat each); a file whose mtime moved but whose size did not is hashed, so a checkout or `touch` that
 * leaves it as it was keeps the build fresh. An edit that keeps both size and mtime is not seen.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export const DIST = "dist";
export const STAMP_FILE = join(DIST, ".build-stamp.json");
/** What tsconfig.build.json compiles, plus the configs that shape the output. */
const SOURCE_DIRS = ["components", "lib", "cli"];
const SOURCE_FILES = ["index.ts", "tsconfig.json", "tsconfig.build.json"];

export interface SourceFacts {
  size: number;
  mtimeMs: number;
  sha1: string;
}

/** What the build saw: each source, and the mtime of each directory holding them. */
export interface Stamp {
  sources: Record<string, SourceFacts>;
  dirs: Record<string, number>;
}

/** What is there now: the sources' stats, hashed lazily (only where a stamp's mtime disagrees). */
export interface Current {
  sources: Record<string, { size: number; mtimeMs: number; sha1: () => string }>;
  dirs: Record<string, number>;
}

/** Whether `rel` is compiled into dist/ (tests are not). */
export function isBuiltSource(rel: string): boolean {
  return rel.endsWith(".ts") && !rel.endsWith(".test.ts") && !rel.endsWith(".d.ts");
}

/** Every built source and every directory under the source folders (relative, `/`-separated). */
function walk(root: string): { files: string[]; dirs: string[] } {
  const files = [...SOURCE_FILES];
  const dirs: string[] = [];
  const visit = (rel: string) => {
    dirs.push(rel);
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) visit(child);
      else if (isBuiltSource(child)) files.push(child);
    }
  };
  for (const dir of SOURCE_DIRS) visit(dir);
  return { files: files.sort(), dirs };
}

function mtimes(root: string, rels: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const rel of rels) out[rel] = statSync(join(root, rel), { throwIfNoEntry: false })?.mtimeMs ?? -1;
  return out;
}

function sha1(file: string): string {
  // Loaded only when a file must be hashed: node:crypto alone costs more than the whole fast path.
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return createHash("sha1").update(readFileSync(file)).digest("hex");
}

/**
 * The sources as they are now under `root`. When no directory's mtime moved since `built`, no file was
 * added or removed, so its list is used instead of walking the tree (the walk costs more than the stats).
 */
export function currentSources(root: string, built?: Stamp): Current {
  const builtDirs = built === undefined ? [] : Object.keys(built.dirs);
  const dirsNow = mtimes(root, builtDirs);
  const same = built !== undefined && builtDirs.every((d) => dirsNow[d] === built.dirs[d]);
  const tree = same ? { files: Object.keys(built.sources), dirs: builtDirs } : walk(root);
  const current: Current = { sources: {}, dirs: same ? dirsNow : mtimes(root, tree.dirs) };
  for (const rel of tree.files) {
    const file = join(root, rel);
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat !== undefined)
      current.sources[rel] = { size: stat.size, mtimeMs: stat.mtimeMs, sha1: () => sha1(file) };
  }
  return current;
}

/** The stamp the build writes: every source hashed. */
export function stampOf(current: Current): Stamp {
  const sources: Stamp["sources"] = {};
  for (const [rel, f] of Object.entries(current.sources))
    sources[rel] = { size: f.size, mtimeMs: f.mtimeMs, sha1: f.sha1() };
  return { sources, dirs: current.dirs };
}

/** The stamp the last build wrote, or undefined when there is none (never built, or a build cut short). */
export function readStamp(root: string): Stamp | undefined {
  try {
    const stamp = JSON.parse(readFileSync(join(root, STAMP_FILE), "utf8")) as Partial<Stamp>;
    return stamp.sources && stamp.dirs ? (stamp as Stamp) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a source is as the build saw it: same size and mtime, or same size and contents. */
function unchanged(built: SourceFacts | undefined, now: Current["sources"][string] | undefined): boolean {
  if (built === undefined || now === undefined || built.size !== now.size) return false;
  return built.mtimeMs === now.mtimeMs || built.sha1 === now.sha1();
}

/** The sources that differ between what was built and what is there now: changed, added or removed. */
export function staleSources(built: Stamp, current: Current): string[] {
  const names = new Set([...Object.keys(built.sources), ...Object.keys(current.sources)]);
  return [...names].filter((n) => !unchanged(built.sources[n], current.sources[n])).sort();
}

/** Why `command` must not run from dist/, or undefined when the build matches the sources. */
export function staleReason(command: string, built: Stamp | undefined, current: Current): string | undefined {
  const fix = "run `npm run build` (npm ci runs it too), then the command again";
  if (built === undefined) return `${command}: dist/ has no complete build: ${fix}`;
  const stale = staleSources(built, current);
  if (stale.length === 0) return undefined;
  const shown = stale.slice(0, 3).join(", ") + (stale.length > 3 ? ` and ${stale.length - 3} more` : "");
  return `${command}: dist/ is older than the sources (${shown} changed since the last build): ${fix}`;
}
