/**
 * npm run bench:stage-bigfile [-- --mib N --tmp <dir> --keep]
 *
 * Peak memory of staging one entry that holds a large file (default 200 MiB, incompressible): the stager's
 * own (the node process running `cli/stage.ts`) against git's, each sampled from /proc every 20 ms (see
 * bench/lib/rss-sampler.ts), plus the node process's VmHWM, the kernel's own peak, which no sample can miss.
 *
 * Scenarios, one CLI run each at --concurrency 1, over loopback HTTP (git-http-backend, no added latency):
 * - small:          a one-file entry, the stager's baseline;
 * - by SHA:         the pinned tree holds the big file, fetched at depth 1 by SHA;
 * - fallback:       the same, from a server that refuses fetches by SHA (branch and tag tips, deepened);
 * - fallback, tip:  the pinned tree is small, the branch tip (which the fallback fetches) holds the big file.
 *
 * Repositories and staged trees live in a tmpfs where there is one (bench/lib/scratch-dir.ts says why).
 * Prints a table and writes bench/out/stage-bigfile.json.
 */
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createRepo, deterministicBytes, gitEnv, removeDir } from "../test/support/git-fixtures";
import { type GitHttpServer, startGitHttpServer } from "../test/support/git-http-server";
import { intOption } from "./lib/args";
import { fmtMiB, fmtSeconds, MiB } from "./lib/format";
import { gitVersion } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { STAGE_CLI } from "./lib/paths";
import { type RssPeak, RssSampler } from "./lib/rss";
import { runBench } from "./lib/run";
import { sampledRun } from "./lib/sampled-run";
import { defaultTmpParent } from "./lib/scratch-dir";
import { alignedTable } from "./lib/table";

const SAMPLE_MS = 20;

interface Scenario {
  name: string;
  repo: string;
  ref: string;
  refusing: boolean;
  /** Bytes of the pinned tree's files. */
  treeBytes: number;
}

interface Result extends Scenario {
  wallMs: number;
  exitCode: number | null;
  rss: RssPeak;
}

/** The four scenarios over one repository: `small` pins a one-file tree, `tip` adds the big file. */
function scenarios(mib: number, bigBytes: number, small: string, tip: string): Scenario[] {
  return [
    { name: "small (baseline)", repo: "acme/big", ref: small, refusing: false, treeBytes: 6 },
    {
      name: `by SHA, ${mib} MiB file in tree`,
      repo: "acme/big",
      ref: tip,
      refusing: false,
      treeBytes: bigBytes + 4,
    },
    {
      name: `fallback, ${mib} MiB file in tree`,
      repo: "acme/big",
      ref: tip,
      refusing: true,
      treeBytes: bigBytes + 4,
    },
    {
      name: `fallback, ${mib} MiB file only in the tip`,
      repo: "acme/big",
      ref: small,
      refusing: true,
      treeBytes: 6,
    },
  ];
}

/** Runs the CLI as its own process group, sampling its tree's memory. */
function run(sampler: RssSampler, args: string[]) {
  return sampledRun(sampler, STAGE_CLI[0], args, { env: gitEnv(), sampleIntervalMs: SAMPLE_MS });
}

/** One CLI run staging the scenario's one entry into a fresh directory. */
async function runScenario(sampler: RssSampler, s: Scenario, dir: string, server: GitHttpServer) {
  await mkdir(dir, { recursive: true });
  const manifest = join(dir, "manifest.json");
  await writeFile(
    manifest,
    JSON.stringify({
      version: 1,
      plugins: [{ name: "big", repo: s.repo, ref: s.ref }],
      workspace_templates: [],
      org_templates: [],
    }),
  );
  process.stderr.write(`bench: ${s.name}\n`);
  const args = [
    ...STAGE_CLI.slice(1),
    "--manifest",
    manifest,
    "--dest",
    join(dir, "deps"),
    "--git-base-url",
    server.url,
    "--concurrency",
    "1",
    "--quiet",
  ];
  const m = await run(sampler, args);
  if (m.exitCode !== 0) throw new Error(`stage CLI exited ${m.exitCode} for ${s.name}:\n${m.stderr}`);
  return { ...s, wallMs: m.wallMs, exitCode: m.exitCode, rss: m.rss };
}

function printTable(results: Result[], mib: number, git: string): void {
  const rows = [
    [
      "scenario",
      "wall",
      "peak total",
      "stager (sampled)",
      "stager VmHWM",
      "git (sampled)",
      "git VmHWM",
      "stager / git",
    ],
    ...results.map((r) => [
      r.name,
      fmtSeconds(r.wallMs),
      fmtMiB(r.rss.peakBytes),
      fmtMiB(r.rss.peakNodeBytes),
      fmtMiB(r.rss.peakNodeHwmBytes),
      fmtMiB(r.rss.peakGitBytes),
      fmtMiB(r.rss.peakGitHwmBytes),
      (r.rss.peakNodeHwmBytes / Math.max(1, r.rss.peakGitBytes)).toFixed(2),
    ]),
  ];
  process.stdout.write(
    [
      "",
      `Staging one entry with a ${mib} MiB incompressible file, --concurrency 1, loopback HTTP; ${git}, node ${process.version}.`,
      `RSS sampled every ${SAMPLE_MS} ms over the CLI's process tree; VmHWM is the kernel's peak of one process.`,
      "",
      ...alignedTable(rows, { rule: true }),
      "",
    ].join("\n"),
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      mib: { type: "string", default: "200" },
      tmp: { type: "string" },
      keep: { type: "boolean", default: false },
    },
  });
  const mib = intOption("mib", values.mib, 1);
  const tmp = await mkdtemp(join(values.tmp ?? (await defaultTmpParent()), "bench-bigfile-"));
  const servers: GitHttpServer[] = [];
  const sampler = RssSampler.start();
  try {
    const root = join(tmp, "repos");
    process.stderr.write(`bench: building a repository with a ${mib} MiB file in ${root}\n`);
    const big = deterministicBytes(mib * MiB, "bench-bigfile");
    const repo = await createRepo(root, "acme/big", [
      { files: { "plugin.yaml": "small\n" } },
      { files: { "plugin.yaml": "tip\n", "data/big.bin": big } },
    ]);
    const [small = "", tip = ""] = repo.shas;
    const normal = await startGitHttpServer({ root });
    const refusing = await startGitHttpServer({ root, refuseShaWants: true });
    servers.push(normal, refusing);
    await sampler.ready();

    // One discarded run: the first start reads the entry from disk, later ones from the page cache.
    await run(sampler, [...STAGE_CLI.slice(1), "--help"]);
    const results: Result[] = [];
    for (const [i, s] of scenarios(mib, big.length, small, tip).entries()) {
      const dir = join(tmp, "runs", String(i + 1));
      results.push(await runScenario(sampler, s, dir, s.refusing ? refusing : normal));
    }

    const git = await gitVersion();
    printTable(results, mib, git);
    await writeOutJson("stage-bigfile.json", {
      generatedAt: new Date().toISOString(),
      git,
      node: process.version,
      fileBytes: big.length,
      sampleIntervalMs: SAMPLE_MS,
      results,
    });
    process.stderr.write(`bench: wrote ${join("bench", "out", "stage-bigfile.json")}\n`);
    return 0;
  } finally {
    sampler.close();
    for (const s of servers) await s.close();
    if (values.keep) process.stderr.write(`bench: kept ${tmp}\n`);
    else await removeDir(tmp);
  }
}

runBench(main);
