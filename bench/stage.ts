/**
 * npm run bench:stage [-- --baseline-runs N --cold-runs N --warm-runs N --startup-runs N
 *                         --names <manifest whose names to use> --tmp <dir> --keep]
 *
 * The stager against what the old pipeline did, on the real manifest's shape (31 entries, three of them
 * with long histories carrying large deleted files), served over loopback HTTP with emulated latency
 * and a bandwidth cap: on bare loopback a round trip and a byte are free, which would hide exactly what
 * the old script wasted (full clones, one after another).
 *
 * Prints a table and writes every raw number to bench/out/stage.json. Exits non-zero only when the bench
 * itself breaks (or the two pipelines staged different trees, which voids the comparison); a missed goal
 * is printed as MISSED.
 *
 * Noise: on a 2-core machine, anything else running shows up in the numbers, so every run records the
 * CPU other processes used meanwhile, medians use quiet runs, and the table says MACHINE BUSY when
 * other load was significant.
 *
 * Disk: repositories and staged trees live in a tmpfs (/dev/shm) by default, not in /tmp. This VM's
 * root filesystem is ext4 without a journal, where creating a file after many deletions (which both
 * pipelines do: .git dirs, temp repos) costs up to ~1 ms instead of ~20 µs (see probeCreate); that
 * quirk, not the pipelines, then decides the numbers. A CI runner's journaled disk behaves much more
 * like the tmpfs. `--tmp /tmp` measures on disk anyway.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, constants as fsConstants, mkdirSync, openSync, readFileSync } from "node:fs";
import { access, mkdir, mkdtemp, readdir, readFile, statfs, writeFile } from "node:fs/promises";
import os from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { LIST_DIRS } from "../lib/manifest/contract";
import { DEFAULT_CONCURRENCY } from "../lib/templates/stager";
import { gitEnv, removeDir, runGit } from "../test/support/git-fixtures";
import { type GitHttpServer, startGitHttpServer } from "../test/support/git-http-server";
import { MiB } from "./lib/format";
import { type RssPeak, RssSampler } from "./lib/rss";
import { runBench } from "./lib/run";
import { type CompareResult, compareStaged } from "./stage/compare";
import { buildFixtures, type FixtureEntry, readRealManifest } from "./stage/fixtures";

const REPO_ROOT = resolve(__dirname, "..");
const OUT_DIR = join(REPO_ROOT, "bench", "out");
// Exactly what `npm run stage` runs (minus npm itself): one node process with tsx as a loader.
const STAGE_CLI = [process.execPath, "--import", "tsx", "cli/stage.ts"] as const;
/**
 * Where the entries' names come from. The project's manifest.json lists the same 31 names, repos and
 * runtimes as the platform's real manifest at the time of the fix (test/fixtures/manifest/real-world.json), and every
 * checkout has it.
 */
const DEFAULT_NAMES = join(REPO_ROOT, "manifest.json");

/** The workload and the emulated network. Changing any of these changes what the numbers mean. */
const WORKLOAD = {
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
const BUSY_CORES = 0.2;

const GOALS = { coldSpeedup: 10, warmOverheadMs: 100, warmRequests: 0 };

interface Measured {
  wallMs: number;
  /**
   * CPU during the run: the measured tree's (user, sys), the server's (the bench process and the CGIs it
   * reaped), and everything else on the machine (other load, which makes a run noisy), from /proc/stat.
   */
  cpu: { userMs: number; sysMs: number; serverMs: number; otherMs: number; stealMs: number };
  exitCode: number | null;
  requests: number;
  bytesOut: number;
  /** Processes of the measured tree still alive after its root exited (then killed). */
  leaked: boolean;
  /** Requests not answered 200: should be none, any would mean retries or errors. */
  failedRequests: number;
  rss: RssPeak;
  stdout: string;
  stderr: string;
}

interface CliRun extends Measured {
  concurrency: number;
  actions: Record<string, number>;
  digest: string | undefined;
}

interface ColdRun extends CliRun {
  createMsPerFile: number;
  dest: string;
}

interface BaselineEntry {
  entry: string;
  /** clone + checkout + deleting .git, as the old script did. */
  ms: number;
  objects: number;
}

interface BaselineRun extends Measured {
  createMsPerFile: number;
  /** Wall time minus the object counting the bench added to the script. */
  wallExclCountingMs: number;
  objects: number;
  perEntry: BaselineEntry[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const fmtMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtBytes = (b: number) =>
  b >= MiB ? `${(b / MiB).toFixed(1)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`;

/** Everything the bench starts, so any ending (error, Ctrl-C) can take it all down. */
class Resources {
  readonly children = new Set<ChildProcess>();
  server: GitHttpServer | undefined;
  sampler: RssSampler | undefined;
  tmp: string | undefined;
  keep = false;
  private done: Promise<void> | undefined;

  cleanup(): Promise<void> {
    this.done ??= (async () => {
      for (const child of this.children) {
        // Each measured command leads its own process group: this reaches its git children too.
        if (child.pid && child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
      this.sampler?.close();
      await this.server?.close();
      if (this.tmp && !this.keep) await removeDir(this.tmp);
      else if (this.tmp) process.stderr.write(`bench: kept ${this.tmp}\n`);
    })();
    return this.done;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      "baseline-runs": { type: "string", default: "2" },
      "cold-runs": { type: "string", default: "3" },
      "warm-runs": { type: "string", default: "9" },
      "startup-runs": { type: "string", default: "9" },
      names: { type: "string", default: DEFAULT_NAMES },
      tmp: { type: "string" },
      keep: { type: "boolean", default: false },
    },
  });
  const runs = {
    baseline: Number(values["baseline-runs"]),
    cold: Number(values["cold-runs"]),
    warm: Number(values["warm-runs"]),
    startup: Number(values["startup-runs"]),
  };
  for (const [k, v] of Object.entries(runs))
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k}-runs: expected a positive integer`);

  const res = new Resources();
  res.keep = values.keep ?? false;
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    void res.cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const tmpParent = values.tmp ?? (await defaultTmpParent());
    return await bench(res, runs, values.names ?? DEFAULT_NAMES, tmpParent);
  } finally {
    await res.cleanup();
  }
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

async function bench(
  res: Resources,
  runs: { baseline: number; cold: number; warm: number; startup: number },
  namesFile: string,
  tmpParent: string,
): Promise<number> {
  const tmp = await mkdtemp(join(tmpParent, "bench-stage-"));
  res.tmp = tmp;
  const reposRoot = join(tmp, "repos");
  let runNo = 0;
  // Nothing is deleted until the bench ends: see probeCreate for why deletions would skew later runs.
  const freshDir = (label: string) => join(tmp, "runs", `${String(++runNo).padStart(2, "0")}-${label}`);
  const loadBefore = os.loadavg();

  // --- workload -------------------------------------------------------------------------------------
  log(`building fixture repositories in ${reposRoot}`);
  const t0 = performance.now();
  const real = await readRealManifest(namesFile);
  const fixtures = await buildFixtures(reposRoot, real, WORKLOAD);
  const fixturesMs = performance.now() - t0;
  const manifestFile = join(tmp, "manifest.json");
  await writeFile(manifestFile, fixtures.manifestText);
  await mkdir(OUT_DIR, { recursive: true });
  await writeFile(join(OUT_DIR, "stage-manifest.json"), fixtures.manifestText);
  const entries = fixtures.entries;
  log(`${entries.length} repositories in ${fmtMs(fixturesMs)}`);

  const server = await startGitHttpServer({
    root: reposRoot,
    latencyMs: WORKLOAD.latencyMs,
    bandwidthBytesPerSec: WORKLOAD.bandwidthBytesPerSec,
  });
  res.server = server;
  const sampler = RssSampler.start();
  res.sampler = sampler;
  await sampler.ready();
  const clkTck = Number((await run("getconf", ["CLK_TCK"])).trim()) || 100;
  const ticksMs = (ticks: number) => (ticks * 1000) / clkTck;

  // Built from nothing (no ~/.gitconfig, no GIT_* from the caller), for the old script and the CLI alike.
  const env = gitEnv();

  /** Runs one command as its own process group, sampling its tree, with the server's counters reset. */
  const measure = async (cmd: string, args: string[]): Promise<Measured> => {
    server.resetStats();
    const benchTicks = selfTicks();
    const samplerTicks = processTicks(sampler.pid);
    const machineTicks = machineCpu();
    const started = performance.now();
    const child = spawn(cmd, args, {
      cwd: REPO_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    res.children.add(child);
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => resolve(code));
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (c: Buffer) => out.push(c));
    child.stderr?.on("data", (c: Buffer) => err.push(c));
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    await sampler.watch(child.pid, WORKLOAD.sampleIntervalMs);
    const exitCode = await exited;
    const wallMs = performance.now() - started;
    const rss = await sampler.stop();
    await closed;
    // The group outliving its leader means a process was left behind (e.g. a git the CLI did not wait
    // for): worth reporting, and it must not run on into the next measurement.
    let leaked = false;
    try {
      process.kill(-child.pid, 0);
      leaked = true;
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // no process left in the group: the normal case
    }
    const machine = machineCpu();
    const benchMs = ticksMs(selfTicks() - benchTicks);
    const samplerMs = ticksMs(processTicks(sampler.pid) - samplerTicks);
    res.children.delete(child);
    const cpuMs = ticksMs(rss.cpuUserTicks + rss.cpuSysTicks);
    return {
      wallMs,
      exitCode,
      requests: server.requests.length,
      bytesOut: server.bytesOut,
      failedRequests: server.requests.filter((q) => q.status !== 200).length,
      rss,
      leaked,
      cpu: {
        userMs: ticksMs(rss.cpuUserTicks),
        sysMs: ticksMs(rss.cpuSysTicks),
        // The bench's own CPU plus the children it reaped: the server (event loop and git-http-backend
        // CGIs) and the measured tree. What is not the tree is the server's.
        serverMs: Math.max(0, benchMs - cpuMs),
        otherMs: Math.max(0, ticksMs(machine.busy - machineTicks.busy) - benchMs - samplerMs),
        stealMs: ticksMs(machine.steal - machineTicks.steal),
      },
      stdout: Buffer.concat(out).toString("utf8"),
      stderr: Buffer.concat(err).toString("utf8"),
    };
  };

  const cli = async (dest: string, opts: { concurrency?: number; quiet?: boolean } = {}): Promise<CliRun> => {
    const args = [
      ...STAGE_CLI.slice(1),
      "--manifest",
      manifestFile,
      "--dest",
      dest,
      "--git-base-url",
      server.url,
    ];
    if (opts.concurrency !== undefined) args.push("--concurrency", String(opts.concurrency));
    if (opts.quiet ?? true) args.push("--quiet");
    const m = await measure(STAGE_CLI[0], args);
    if (m.exitCode !== 0) throw new Error(`stage CLI exited ${m.exitCode}:\n${m.stderr}`);
    const result = JSON.parse(m.stdout) as { digest: string; entries: Array<{ action: string }> };
    const actions: Record<string, number> = {};
    for (const e of result.entries) actions[e.action] = (actions[e.action] ?? 0) + 1;
    return { ...m, concurrency: opts.concurrency ?? DEFAULT_CONCURRENCY, actions, digest: result.digest };
  };

  /** A cold run: probes the disk first, so a slow run can be told apart from a slow disk at that moment. */
  const coldCli = async (label: string, opts: { concurrency?: number; quiet?: boolean } = {}) => {
    const createMsPerFile = probeCreate(freshDir(`probe-${label}`));
    const dest = freshDir(label);
    return { ...(await cli(dest, opts)), createMsPerFile, dest };
  };

  // One discarded run first: tsx compiles on first use and caches the result in the temp dir.
  log("warming tsx's compile cache");
  await measure(STAGE_CLI[0], [...STAGE_CLI.slice(1), "--help"]);

  // --- baseline (the old clone script) and ours cold, interleaved --------------------------------------
  // Interleaved so that drift in the machine's state (page cache, the disk's recently-deleted inodes,
  // other load) spreads over both sides instead of favouring whichever ran first.
  const script = join(tmp, "old-clone-script.sh");
  const listFile = join(tmp, "old-clone-script.tsv");
  await writeFile(script, OLD_SCRIPT);
  await writeFile(
    listFile,
    entries.map((e) => `${LIST_DIRS[e.list]}\t${e.name}\t${e.repo}\t${e.sha}\n`).join(""),
  );
  const baseline: BaselineRun[] = [];
  const cold: ColdRun[] = [];
  let baselineDest = "";
  let oursDest = "";
  for (let i = 0; i < Math.max(runs.baseline, runs.cold); i++) {
    if (i < runs.baseline) {
      log(`baseline run ${i + 1}/${runs.baseline} (serial full clones)`);
      const createMsPerFile = probeCreate(freshDir("probe-baseline"));
      baselineDest = freshDir("baseline");
      const m = await measure("bash", [script, server.url, baselineDest, listFile]);
      if (m.exitCode !== 0) throw new Error(`old clone script exited ${m.exitCode}:\n${m.stderr}`);
      baseline.push({ ...parseBaseline(m, entries.length), createMsPerFile });
    }
    if (i < runs.cold) {
      log(`ours cold run ${i + 1}/${runs.cold}`);
      const r = await coldCli("cold");
      cold.push(r);
      oursDest = r.dest;
    }
  }

  // --- start-up and ours warm (on the last cold destination), interleaved --------------------------
  // The warm goal is a difference between the two, so they should see the same machine.
  const startup: Measured[] = [];
  const warm: CliRun[] = [];
  for (let i = 0; i < Math.max(runs.startup, runs.warm); i++) {
    if (i < runs.startup) {
      const s = await measure(STAGE_CLI[0], [...STAGE_CLI.slice(1), "--help"]);
      if (s.exitCode !== 0) throw new Error(`stage CLI --help exited ${s.exitCode}:\n${s.stderr}`);
      startup.push(s);
    }
    if (i < runs.warm) {
      log(`start-up and ours warm, round ${i + 1}`);
      warm.push(await cli(oursDest));
    }
  }

  // --- correctness: same files, same bytes (after the warm runs, so those are covered too) -----------
  log("comparing the old script's tree with ours");
  const correctness: CompareResult = await compareStaged(
    baselineDest,
    oursDest,
    entries.map((e) => ({
      path: `${LIST_DIRS[e.list]}/${e.name}`,
      gitDir: join(reposRoot, `${e.repo}.git`),
      sha: e.sha,
    })),
  );

  // --- peak memory against --concurrency ------------------------------------------------------------
  const sweep: ColdRun[] = [];
  for (const c of WORKLOAD.sweep) {
    log(`ours cold, --concurrency ${c}`);
    sweep.push(await coldCli(`c${c}`, { concurrency: c }));
  }

  // --- where a cold run's time goes: the CLI's own per-entry timings ---------------------------------
  log("ours cold with progress lines (per-entry timings)");
  const profile = await coldCli("profile", { quiet: false });
  const perEntry = [...profile.stderr.matchAll(/^stage: fetched (\S+) \((\d+) ms\)$/gm)].map((m) => ({
    entry: m[1] ?? "",
    ms: Number(m[2]),
  }));

  const digests = new Set([...cold, ...sweep, profile].map((r) => r.digest));
  const loadAfter = os.loadavg();

  // --- report -----------------------------------------------------------------------------------------
  // Medians are taken over the quiet runs of a phase when it has any: a run during which other processes
  // kept a core busy says more about them than about the stager (all runs stay in the JSON).
  const quiet = (r: Measured) => r.cpu.otherMs / r.wallMs <= BUSY_CORES;
  const pick = <T extends Measured>(rs: T[]): T[] => (rs.some(quiet) ? rs.filter(quiet) : rs);
  const baselineWall = (b: BaselineRun) => b.wallExclCountingMs;
  const wall = (r: Measured) => r.wallMs;
  const startupMs = median(pick(startup).map(wall));
  const baselineMs = median(pick(baseline).map(baselineWall));
  const coldMs = median(pick(cold).map(wall));
  const warmMs = median(pick(warm).map(wall));
  const coldSpeedup = baselineMs / coldMs;
  const warmOverheadMs = warmMs - startupMs;
  const warmRequests = Math.max(...warm.map((w) => w.requests));
  const correct =
    correctness.contentProblems.length === 0 &&
    correctness.modeProblems.length === 0 &&
    correctness.gitDirs.length === 0 &&
    digests.size === 1;

  const machine = await environment(tmp);
  const objectsHead = entries.reduce((s, e) => s + e.objectsHead, 0);
  const objectsAll = entries.reduce((s, e) => s + e.objectsAll, 0);

  const rows: string[][] = [
    [
      "phase",
      "runs",
      "wall (median)",
      "min–max",
      "requests",
      "bytes out",
      "objects",
      "CPU (tree)",
      "peak RSS",
      "of it git",
      "fetches",
    ],
  ];
  const span = (xs: number[]) => `${fmtMs(Math.min(...xs))}–${fmtMs(Math.max(...xs))}`;
  const row = <T extends Measured>(phase: string, all: T[], ms: (r: T) => number, objects: string) => {
    const r = pick(all);
    const q = all.filter(quiet).length;
    return [
      phase,
      q === all.length ? String(all.length) : `${all.length} (${q} quiet)`,
      fmtMs(median(r.map(ms))),
      r.length > 1 ? span(r.map(ms)) : "",
      String(median(r.map((x) => x.requests))),
      fmtBytes(median(r.map((x) => x.bytesOut))),
      objects,
      fmtMs(median(r.map((x) => x.cpu.userMs + x.cpu.sysMs))),
      // Peaks over every run, quiet or not: other load does not change how much memory the tree takes.
      fmtBytes(Math.max(...all.map((x) => x.rss.peakBytes))),
      fmtBytes(Math.max(...all.map((x) => x.rss.peakGitBytes))),
      String(Math.max(...all.map((x) => x.rss.peakRemoteHelpers))),
    ];
  };
  rows.push(row("start-up (--help)", startup, wall, "–"));
  rows.push(row("baseline: old script", baseline, baselineWall, String(baseline[0]?.objects ?? 0)));
  rows.push(row(`ours cold (c=${DEFAULT_CONCURRENCY})`, cold, wall, `${objectsHead}*`));
  rows.push(row("ours warm", warm, wall, "0"));
  for (const s of sweep) rows.push(row(`ours cold c=${s.concurrency}`, [s], wall, `${objectsHead}*`));

  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  const probes = [...baseline, ...cold, ...sweep, profile].map((r) => r.createMsPerFile);
  const out: string[] = [];
  out.push("");
  out.push(
    `Staging ${entries.length} entries (${countBy(entries)}), ${entries.reduce((s, e) => s + e.files, 0)} files; ${WORKLOAD.longHistory.length} repos with ${WORKLOAD.longCommits} commits and a deleted ${fmtBytes(WORKLOAD.bigFileBytes)} incompressible file.`,
  );
  out.push(
    `Network: loopback HTTP (git-http-backend), ${WORKLOAD.latencyMs} ms added per request, ${fmtBytes(WORKLOAD.bandwidthBytesPerSec)}/s cap shared by all connections.`,
  );
  out.push(
    `Machine: ${machine.cpus} cores (${machine.cpuModel}), ${fmtBytes(machine.totalMemBytes)}, node ${machine.node}, ${machine.git}, ${machine.os}; temp dir on ${machine.tmpFs}; load avg ${loadBefore[0]?.toFixed(2)} before, ${loadAfter[0]?.toFixed(2)} after.`,
  );
  out.push(
    `Stager default --concurrency ${DEFAULT_CONCURRENCY}. CPU and RSS: summed over the measured process tree, sampled every ${WORKLOAD.sampleIntervalMs} ms.`,
  );
  out.push("");
  out.push(line(rows[0] ?? []));
  out.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows.slice(1)) out.push(line(r));
  out.push("");
  out.push(
    `objects: baseline = counted in each clone before .git is deleted; * = computed on the server (head commit + its tree); full history is ${objectsAll}.`,
  );
  out.push(
    "fetches = most git-remote-http processes alive at once. Baseline wall excludes the bench's object counting.",
  );
  const cores = (r: Measured) => (r.cpu.userMs + r.cpu.sysMs + r.cpu.serverMs) / r.wallMs;
  out.push(
    `server CPU (git-http-backend on these same cores; a real git host's own) per cold run ${fmtMs(median(cold.map((c) => c.cpu.serverMs)))}, per baseline run ${fmtMs(median(baseline.map((b) => b.cpu.serverMs)))}; cores busy (tree + server): cold ${median(cold.map(cores)).toFixed(2)}, baseline ${median(baseline.map(cores)).toFixed(2)} of ${os.cpus().length}.`,
  );
  out.push(
    `disk: creating an empty file took ${median(probes).toFixed(3)} ms (median; ${Math.min(...probes).toFixed(3)}–${Math.max(...probes).toFixed(3)}) just before each file-writing run.`,
  );
  out.push("");
  out.push(
    `cold speedup vs baseline   ${coldSpeedup.toFixed(1)}x  (${fmtMs(baselineMs)} / ${fmtMs(coldMs)})   goal >= ${GOALS.coldSpeedup}x   ${verdict(coldSpeedup >= GOALS.coldSpeedup)}`,
  );
  out.push(
    `warm − start-up            ${Math.round(warmOverheadMs)} ms  (${fmtMs(warmMs)} − ${fmtMs(startupMs)})   goal <= ${GOALS.warmOverheadMs} ms   ${verdict(warmOverheadMs <= GOALS.warmOverheadMs)}`,
  );
  out.push(
    `warm requests              ${warmRequests}   goal ${GOALS.warmRequests}   ${verdict(warmRequests <= GOALS.warmRequests)}`,
  );
  out.push(
    `correctness                ${correct ? "same" : "DIFFERENT"}: ${correctness.entries} entries, ${correctness.files} files byte-identical to the old script's; ${correctness.modeProblems.length} mode problems; ${correctness.gitDirs.length} .git paths; ${digests.size} distinct digest(s) over ${cold.length + sweep.length + 1} cold runs`,
  );
  for (const p of [...correctness.contentProblems, ...correctness.modeProblems, ...correctness.gitDirs].slice(
    0,
    20,
  ))
    out.push(`  ${p}`);
  const warmFetched = warm.filter((w) => (w.actions.unchanged ?? 0) !== entries.length).length;
  if (warmFetched > 0) out.push(`  ${warmFetched} warm run(s) did not report every entry unchanged`);
  const all: Measured[] = [...startup, ...baseline, ...cold, ...warm, ...sweep, profile];
  const busy = all.filter((r) => r.cpu.otherMs / r.wallMs > BUSY_CORES);
  if (busy.length > 0) {
    const worst = Math.max(...busy.map((r) => r.cpu.otherMs / r.wallMs));
    out.push(
      `MACHINE BUSY: in ${busy.length} of ${all.length} runs other processes used > ${BUSY_CORES} cores on average (worst ${worst.toFixed(2)}); medians use a phase's quiet runs where it has any, but a quiet machine is better.`,
    );
  }
  const leaked = all.filter((r) => r.leaked).length;
  if (leaked > 0)
    out.push(`LEAK: ${leaked} run(s) left processes behind after exiting (killed by the bench)`);
  const failed = all.reduce((s, r) => s + r.failedRequests, 0);
  if (failed > 0) out.push(`note: ${failed} HTTP requests were not answered 200 (retries?)`);
  const slowest = [...perEntry].sort((a, b) => b.ms - a.ms).slice(0, 4);
  out.push("");
  out.push(
    `per entry, ours (c=${DEFAULT_CONCURRENCY}, progress lines): median ${fmtMs(median(perEntry.map((p) => p.ms)))}, slowest ${slowest.map((p) => `${p.entry} ${fmtMs(p.ms)}`).join(", ")}`,
  );
  const b0 = baseline[0]?.perEntry ?? [];
  const bSlow = [...b0].sort((a, b) => b.ms - a.ms).slice(0, 3);
  out.push(
    `per entry, baseline: median ${fmtMs(median(b0.map((p) => p.ms)))}, slowest ${bSlow.map((p) => `${p.entry} ${fmtMs(p.ms)}`).join(", ")}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);

  const strip = <T extends Measured>(m: T) => {
    const { stdout: _o, stderr: _e, ...rest } = m;
    return { ...rest, quiet: quiet(m), otherCores: m.cpu.otherMs / m.wallMs };
  };
  const report = {
    generatedAt: new Date().toISOString(),
    environment: { ...machine, clkTck, loadAvgBefore: loadBefore, loadAvgAfter: loadAfter },
    workload: {
      ...WORKLOAD,
      entries: entries.length,
      lists: countBy(entries),
      fixtureBuildMs: fixturesMs,
      defaultConcurrency: DEFAULT_CONCURRENCY,
      objectsHeadTotal: objectsHead,
      objectsAllTotal: objectsAll,
      repos: entries,
    },
    goals: {
      coldSpeedup: { value: coldSpeedup, goal: GOALS.coldSpeedup, met: coldSpeedup >= GOALS.coldSpeedup },
      warmOverheadMs: {
        value: warmOverheadMs,
        goal: GOALS.warmOverheadMs,
        met: warmOverheadMs <= GOALS.warmOverheadMs,
      },
      warmRequests: {
        value: warmRequests,
        goal: GOALS.warmRequests,
        met: warmRequests <= GOALS.warmRequests,
      },
    },
    medians: { startupMs, baselineMs, coldMs, warmMs, overQuietRunsWhereAny: true, busyCores: BUSY_CORES },
    startup: startup.map(strip),
    baseline: baseline.map(strip),
    cold: cold.map(strip),
    warm: warm.map(strip),
    concurrencySweep: sweep.map(strip),
    profile: { ...strip(profile), perEntry },
    correctness: { ...correctness, ok: correct, digests: [...digests] },
  };
  await writeFile(join(OUT_DIR, "stage.json"), `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${join("bench", "out", "stage.json")}`);
  // A difference voids the comparison: that is the bench failing, not a goal being missed.
  return correct ? 0 : 1;
}

function parseBaseline(m: Measured, expected: number): Omit<BaselineRun, "createMsPerFile"> {
  const perEntry: BaselineEntry[] = [];
  let countingMs = 0;
  for (const line of m.stdout.split("\n")) {
    const [entry, a, b, c, d, objects] = line.split(" ");
    if (!entry || !a || !b || !c || !d) continue;
    const [ta, tb, tc, td] = [a, b, c, d].map((x) => Number(x) * 1000) as [number, number, number, number];
    perEntry.push({ entry, ms: tb - ta + (td - tc), objects: Number(objects) });
    countingMs += tc - tb;
  }
  if (perEntry.length !== expected) throw new Error(`old clone script staged ${perEntry.length} entries`);
  return {
    ...m,
    wallExclCountingMs: m.wallMs - countingMs,
    objects: perEntry.reduce((s, e) => s + e.objects, 0),
    perEntry,
  };
}

/**
 * Milliseconds to create one empty file in a fresh directory. On ext4 without a journal (this VM's root
 * filesystem), inode allocation skips inodes deleted in the last 1-5 minutes one by one, so creating a
 * file can cost ~1 ms instead of ~20 µs after a big delete, by anyone on the machine. Both pipelines
 * create the same files, but the number shows when a run was slowed by the disk rather than by itself.
 */
function probeCreate(dir: string, files = 200): number {
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  for (let i = 0; i < files; i++) closeSync(openSync(join(dir, `f${i}`), "wx"));
  return (performance.now() - started) / files;
}

/** A process's CPU plus its reaped children's, in clock ticks (/proc/<pid>/stat fields 14-17). */
function processTicks(pid: number | "self" | undefined): number {
  if (pid === undefined) return 0;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return 0;
  }
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return [11, 12, 13, 14].reduce((sum, i) => sum + (Number(f[i]) || 0), 0);
}
const selfTicks = () => processTicks("self");

/** Busy and stolen CPU of the whole machine in clock ticks, from the first line of /proc/stat. */
function machineCpu(): { busy: number; steal: number } {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8")
    .split("\n", 1)[0]
    ?.split(/\s+/)
    .map(Number) ?? [0];
  return {
    busy: (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0),
    steal: steal ?? 0,
  };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
    });
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

function countBy(entries: FixtureEntry[]): string {
  const n = (list: string) => entries.filter((e) => e.list === list).length;
  return `${n("plugins")} plugins, ${n("workspace_templates")} workspace templates, ${n("org_templates")} org templates`;
}

const TMPFS_MAGIC = 0x01021994;

/** /dev/shm when it is a writable tmpfs (see the header for why), else the OS temp dir. */
async function defaultTmpParent(): Promise<string> {
  try {
    if ((await statfs("/dev/shm")).type === TMPFS_MAGIC) {
      await access("/dev/shm", fsConstants.W_OK);
      return "/dev/shm";
    }
  } catch {
    // no /dev/shm here
  }
  return os.tmpdir();
}

const FS_TYPES: Record<number, string> = {
  61267: "ext2/3/4",
  16914836: "tmpfs",
  1481003842: "xfs",
  2435016766: "btrfs",
  2035054128: "overlayfs",
};

async function environment(tmp: string) {
  const cpus = os.cpus();
  const osRelease = await readFile("/etc/os-release", "utf8").catch(() => "");
  const tsxPkg = JSON.parse(
    await readFile(join(REPO_ROOT, "node_modules", "tsx", "package.json"), "utf8"),
  ) as {
    version: string;
  };
  return {
    node: process.version,
    git: (await runGit(["--version"])).stdout.trim(),
    tsx: tsxPkg.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    totalMemBytes: os.totalmem(),
    kernel: os.release(),
    os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? os.platform(),
    tmpDir: tmp,
    tmpFs: FS_TYPES[(await statfs(tmp)).type] ?? `fs type 0x${(await statfs(tmp)).type.toString(16)}`,
    // "<none>" means no journal, which is what makes file creation slow after deletions (see probeCreate).
    ext4JournalTask: Object.fromEntries(
      await Promise.all(
        (await readdir("/sys/fs/ext4").catch(() => [] as string[]))
          .filter((d) => d !== "features")
          .map(async (d) => [
            d,
            (await readFile(`/sys/fs/ext4/${d}/journal_task`, "utf8").catch(() => "unknown")).trim(),
          ]),
      ),
    ),
  };
}

/**
 * The old pipeline's clone loop, kept as a shell script because that is what it was: per entry, a full
 * clone (no depth), a checkout of the pinned SHA, then deleting .git. Object counting (for the report)
 * is timed separately and subtracted. $EPOCHREALTIME is a bash builtin, so timing costs no processes.
 */
const OLD_SCRIPT = `set -euo pipefail
base=$1 dest=$2 list=$3
while IFS=$'\\t' read -r -u 3 dir name repo sha; do
  target="$dest/$dir/$name"
  mkdir -p "$dest/$dir"
  t0=$EPOCHREALTIME
  git clone --quiet "$base/$repo.git" "$target"
  git -C "$target" checkout --quiet "$sha"
  t1=$EPOCHREALTIME
  objects=$(git -C "$target" count-objects -v | sed -n 's/^in-pack: //p')
  t2=$EPOCHREALTIME
  rm -rf "$target/.git"
  t3=$EPOCHREALTIME
  echo "$dir/$name $t0 $t1 $t2 $t3 $objects"
done 3< "$list"
`;

runBench(main);
