/**
 * npm run bench:startup [-- --runs N]
 *
 * How long each command takes to start: `<command> --help` (the cheapest real invocation: the runner loads
 * the whole command module, parses the arguments and prints the usage) run three ways: the TypeScript entry
 * under tsx (the baseline, what the npm scripts ran before the build), the compiled entry with node (what
 * the npm scripts run now, stale-build check included), and `npm run -s` (npm's own start on top). `node -e 0`
 * is the floor. The machine is shared and noisy: every round runs every variant once, in a rotating order,
 * and the figures are medians. Needs a fresh build (`npm run build`); prints a table, writes
 * bench/out/startup.json.
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { intOption } from "./lib/args";
import { fmtMs } from "./lib/format";
import { briefMachine } from "./lib/machine";
import { writeOutJson } from "./lib/out";
import { REPO_ROOT } from "./lib/paths";
import { runBench } from "./lib/run";
import { median } from "./lib/stats";
import { alignedTable } from "./lib/table";

/** The goal for a compiled entry on this project's 2-core machines. */
const GOAL_MS = 200;
const COMMANDS = ["stage", "drift", "pr-report", "local"] as const;
const VARIANTS = ["tsx", "node", "npm"] as const;
type Variant = (typeof VARIANTS)[number];

function commandLine(command: string, variant: Variant): string[] {
  if (variant === "tsx") return [process.execPath, "--import", "tsx", `cli/${command}.ts`, "--help"];
  if (variant === "node") return [process.execPath, `dist/cli/${command}.js`, "--help"];
  return ["npm", "run", "-s", command, "--", "--help"];
}

/** Wall time of one run, from spawn to exit; a run that fails fails the bench (a refused build, say). */
function timeOnce(argv: string[]): number {
  const [file = "", ...args] = argv;
  const start = performance.now();
  const r = spawnSync(file, args, { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  return ms;
}

type Samples = Record<string, number[]>;

/** One discarded round (disk cache, tsx's compile cache), then `runs` rounds in a rotating order. */
function measure(runs: number): Samples {
  const jobs: Array<[string, string[]]> = [["floor", [process.execPath, "-e", "0"]]];
  for (const c of COMMANDS) for (const v of VARIANTS) jobs.push([`${c}/${v}`, commandLine(c, v)]);
  for (const [, argv] of jobs) timeOnce(argv);
  const samples: Samples = Object.fromEntries(jobs.map(([key]) => [key, [] as number[]]));
  for (let r = 0; r < runs; r++) {
    const shift = (r * 5) % jobs.length;
    for (const [key, argv] of [...jobs.slice(shift), ...jobs.slice(0, shift)])
      samples[key]?.push(timeOnce(argv));
    process.stderr.write(`round ${r + 1}/${runs}\n`);
  }
  return samples;
}

function medians(samples: Samples): Record<string, number> {
  return Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]));
}

function table(m: Record<string, number>): string[][] {
  const at = (key: string) => m[key] ?? Number.NaN;
  const header = [
    "command --help",
    "tsx entry",
    "node dist/",
    "npm run -s",
    "tsx / node",
    `node ≤ ${GOAL_MS} ms`,
  ];
  const rows = COMMANDS.map((c) => {
    const node = at(`${c}/node`);
    const ratio = `${(at(`${c}/tsx`) / node).toFixed(2)}x`;
    return [
      c,
      fmtMs(at(`${c}/tsx`)),
      fmtMs(node),
      fmtMs(at(`${c}/npm`)),
      ratio,
      node <= GOAL_MS ? "yes" : "no",
    ];
  });
  return [header, ...rows, ["node -e 0 (floor)", "", fmtMs(at("floor")), "", "", ""]];
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "9" } } });
  const runs = intOption("runs", values.runs, 1);
  const loadBefore = loadavg();
  const samples = measure(runs);
  const m = medians(samples);
  console.log(`startup bench: median wall time of ${runs} interleaved rounds, each command with --help`);
  console.log(
    `load average before: ${loadBefore.map((l) => l.toFixed(1)).join(" ")}, after: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  console.log("");
  for (const line of alignedTable(table(m), { rule: true })) console.log(line);
  const file = await writeOutJson("startup.json", {
    date: new Date().toISOString(),
    machine: { ...briefMachine(), loadavgBefore: loadBefore, loadavgAfter: loadavg() },
    invocation: "<command> --help",
    goalMs: GOAL_MS,
    runs,
    medianMs: m,
    samplesMs: samples,
  });
  console.log(`raw numbers: ${file}`);
  return 0;
}

runBench(main);
