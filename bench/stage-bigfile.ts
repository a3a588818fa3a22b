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
 * Prints a table and writes bench/out/stage-bigfile.json.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createRepo, deterministicBytes, gitEnv, removeDir, runGit } from "../test/support/git-fixtures";
import { type GitHttpServer, startGitHttpServer } from "../test/support/git-http-server";
import { type RssPeak, RssSampler } from "./lib/rss";
import { runBench } from "./lib/run";

const REPO_ROOT = resolve(__dirname, "..");
const OUT_DIR = join(REPO_ROOT, "bench", "out");
const STAGE_CLI = [process.execPath, "--import", "tsx", "cli/stage.ts"] as const;
const MiB = 1024 * 1024;
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

const fmt = (b: number) => `${(b / MiB).toFixed(0)} MiB`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      mib: { type: "string", default: "200" },
      tmp: { type: "string", default: "/dev/shm" },
      keep: { type: "boolean", default: false },
    },
  });
  const mib = Number(values.mib);
  if (!Number.isInteger(mib) || mib < 1) throw new Error("--mib: expected a positive integer");
  const tmp = await mkdtemp(join(values.tmp ?? "/dev/shm", "bench-bigfile-"));
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

    const scenarios: Scenario[] = [
      { name: "small (baseline)", repo: "acme/big", ref: small, refusing: false, treeBytes: 6 },
      {
        name: `by SHA, ${mib} MiB file in tree`,
        repo: "acme/big",
        ref: tip,
        refusing: false,
        treeBytes: big.length + 4,
      },
      {
        name: `fallback, ${mib} MiB file in tree`,
        repo: "acme/big",
        ref: tip,
        refusing: true,
        treeBytes: big.length + 4,
      },
      {
        name: `fallback, ${mib} MiB file only in the tip`,
        repo: "acme/big",
        ref: small,
        refusing: true,
        treeBytes: 6,
      },
    ];
    // One discarded run: tsx compiles on first use and caches the result.
    await run(sampler, [...STAGE_CLI.slice(1), "--help"]);
    const results: Result[] = [];
    let n = 0;
    for (const s of scenarios) {
      const dir = join(tmp, "runs", String(++n));
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
      const server = s.refusing ? refusing : normal;
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
      results.push({ ...s, wallMs: m.wallMs, exitCode: m.exitCode, rss: m.rss });
    }

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
        `${(r.wallMs / 1000).toFixed(2)} s`,
        fmt(r.rss.peakBytes),
        fmt(r.rss.peakNodeBytes),
        fmt(r.rss.peakNodeHwmBytes),
        fmt(r.rss.peakGitBytes),
        fmt(r.rss.peakGitHwmBytes),
        (r.rss.peakNodeHwmBytes / Math.max(1, r.rss.peakGitBytes)).toFixed(2),
      ]),
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
    const line = (row: string[]) =>
      row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
    const git = (await runGit(["--version"])).stdout.trim();
    process.stdout.write(
      [
        "",
        `Staging one entry with a ${mib} MiB incompressible file, --concurrency 1, loopback HTTP; ${git}, node ${process.version}.`,
        `RSS sampled every ${SAMPLE_MS} ms over the CLI's process tree; VmHWM is the kernel's peak of one process.`,
        "",
        line(rows[0] ?? []),
        widths.map((w) => "-".repeat(w)).join("  "),
        ...rows.slice(1).map(line),
        "",
      ].join("\n"),
    );
    await mkdir(OUT_DIR, { recursive: true });
    await writeFile(
      join(OUT_DIR, "stage-bigfile.json"),
      `${JSON.stringify({ generatedAt: new Date().toISOString(), git, node: process.version, fileBytes: big.length, sampleIntervalMs: SAMPLE_MS, results }, null, 2)}\n`,
    );
    process.stderr.write(`bench: wrote ${join("bench", "out", "stage-bigfile.json")}\n`);
    return 0;
  } finally {
    sampler.close();
    for (const s of servers) await s.close();
    if (values.keep) process.stderr.write(`bench: kept ${tmp}\n`);
    else await removeDir(tmp);
  }
}

/** Runs the CLI as its own process group, sampling its tree's memory. */
async function run(
  sampler: RssSampler,
  args: string[],
): Promise<{ wallMs: number; exitCode: number | null; rss: RssPeak; stderr: string }> {
  const started = performance.now();
  const child = spawn(STAGE_CLI[0], args, {
    cwd: REPO_ROOT,
    env: gitEnv(),
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const exited = new Promise<number | null>((res, rej) => {
    child.once("error", rej);
    child.once("exit", (code) => res(code));
  });
  if (child.pid === undefined) throw new Error("could not start the stager");
  await sampler.watch(child.pid, SAMPLE_MS);
  const exitCode = await exited;
  const wallMs = performance.now() - started;
  const rss = await sampler.stop();
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // nothing left in its group: the normal case
  }
  return { wallMs, exitCode, rss, stderr };
}

runBench(main);
