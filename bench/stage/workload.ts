/**
 * What bench:stage stages and through what network: the real manifest's shape, served over loopback HTTP
 * with an added round trip and a bandwidth cap. On bare loopback a round trip and a byte are free, which
 * would hide exactly what the old script wasted (full clones, one after another).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fmtBytes, fmtMs, MiB } from "../lib/format";
import { writeOutText } from "../lib/out";
import { REPO_ROOT } from "../lib/paths";
import { buildFixtures, type FixtureEntry, readRealManifest } from "./fixtures";

/**
 * Where the entries' names come from. The project's manifest.json lists the same 31 names, repos and
 * runtimes as the platform's real manifest at the time of the fix (test/fixtures/manifest/real-world.json),
 * and every checkout has it.
 */
export const DEFAULT_NAMES = join(REPO_ROOT, "manifest.json");

/** The workload and the emulated network. Changing any of these changes what the numbers mean. */
export const WORKLOAD = {
  latencyMs: 30,
  bandwidthBytesPerSec: 10 * MiB,
  longHistory: [
    "workspace_templates/claude-code-default",
    "plugins/superpowers",
    "org_templates/molecule-dev",
  ],
  longCommits: 5000,
  bigFileBytes: 24 * MiB,
  sampleIntervalMs: 20,
  sweep: [1, 2, 4, 8],
};

/** Other load, in cores on average over a run, above which the run is reported as disturbed. */
export const BUSY_CORES = 0.2;

export const GOALS = { coldSpeedup: 10, floorRatio: 3, warmOverheadMs: 100, warmRequests: 0 };

export interface Workload {
  entries: FixtureEntry[];
  /** Bare repositories, <owner>/<name>.git, as the git server serves them. */
  reposRoot: string;
  /** The generated manifest the CLI stages. */
  manifestFile: string;
  fixturesMs: number;
}

export const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** Builds one fixture repository per entry of `namesFile` and the manifest pinning them (also kept in bench/out). */
export async function setUpWorkload(tmp: string, namesFile: string): Promise<Workload> {
  const reposRoot = join(tmp, "repos");
  log(`building fixture repositories in ${reposRoot}`);
  const t0 = performance.now();
  const real = await readRealManifest(namesFile);
  const fixtures = await buildFixtures(reposRoot, real, WORKLOAD);
  const fixturesMs = performance.now() - t0;
  const manifestFile = join(tmp, "manifest.json");
  await writeFile(manifestFile, fixtures.manifestText);
  await writeOutText("stage-manifest.json", fixtures.manifestText);
  log(`${fixtures.entries.length} repositories in ${fmtMs(fixturesMs)}`);
  return { entries: fixtures.entries, reposRoot, manifestFile, fixturesMs };
}

/** "21 plugins, 7 workspace templates, 3 org templates". */
export function countBy(entries: FixtureEntry[]): string {
  const n = (list: string) => entries.filter((e) => e.list === list).length;
  return `${n("plugins")} plugins, ${n("workspace_templates")} workspace templates, ${n("org_templates")} org templates`;
}

/** The workload's one-line description, as the report's first line. */
export function describeWorkload(entries: FixtureEntry[]): string {
  return `Staging ${entries.length} entries (${countBy(entries)}), ${entries.reduce((s, e) => s + e.files, 0)} files; ${WORKLOAD.longHistory.length} repos with ${WORKLOAD.longCommits} commits and a deleted ${fmtBytes(WORKLOAD.bigFileBytes)} incompressible file.`;
}

/** The emulated network, as the report's second line. */
export function describeNetwork(): string {
  return `Network: loopback HTTP (git-http-backend), ${WORKLOAD.latencyMs} ms added per request, ${fmtBytes(WORKLOAD.bandwidthBytesPerSec)}/s cap shared by all connections.`;
}
