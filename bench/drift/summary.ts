/** bench:drift's printed summary: the per-run table, then the 50-repository check against the goal. */
import { CACHE_TAG } from "../../lib/drift/types";
import { fmtMs } from "../lib/format";
import { alignedTable } from "../lib/table";
import { type Figures, GOAL_RATIO } from "./figures";
import type { RemoteMode } from "./remote";

export interface Shape {
  repos: number;
  latencyMs: number;
  concurrency: number;
  maxInFlight: number;
  mode: RemoteMode;
}

export function printSummary(opts: Shape, seedMs: number, f: Figures): void {
  const { serial, pooled } = f;
  const rows = [
    ["mode", ...serial.map((_, i) => `run ${i + 1}`), "median", "requests/run", "peak in flight"],
    [
      "serial",
      ...serial.map((r) => fmtMs(r.ms)),
      fmtMs(f.serialMed),
      String(serial[0]?.requests ?? 0),
      String(f.peak.serial),
    ],
    [
      `pool of ${opts.concurrency}`,
      ...pooled.map((r) => fmtMs(r.ms)),
      fmtMs(f.poolMed),
      String(pooled[0]?.requests ?? 0),
      String(f.peak.pool),
    ],
  ];
  console.log(
    `drift bench: ${opts.repos} repositories (3 builds + ${CACHE_TAG}: 5 tags, 4 images each) in a real registry ` +
      `(docker-registry 2.8.2, 127.0.0.1), seeded in ${fmtMs(seedMs)}`,
  );
  const where =
    opts.mode === "remote"
      ? "remote: the proxy (its own process) answers with the registry's recorded answers"
      : "co-located: every request reaches the registry, on the same cores as the check";
  console.log(
    `${where}; every request goes through a loopback proxy adding ${opts.latencyMs} ms; ${f.perRepo} requests per repository; ` +
      `at most ${opts.maxInFlight} in flight`,
  );
  console.log("");
  for (const line of alignedTable(rows, { rule: false })) console.log(line);
  console.log("");
  console.log(`speedup (median serial / median pool): ${(f.serialMed / f.poolMed).toFixed(1)}x`);
  console.log("");
  for (const line of alignedTable(goalRows(opts, f), { rule: true })) console.log(line);
}

/** The goal: the whole check within GOAL_RATIO x the slowest repository checked alone. */
function goalRows(opts: Shape, f: Figures): string[][] {
  const slowest = f.single.slowest.ms;
  const x = (ms: number) => `${(ms / slowest).toFixed(2)}x`;
  return [
    [
      `${opts.mode}: check (medians over the rounds)`,
      "time",
      "x slowest single",
      "goal",
      "met",
      "peak in flight",
      "check CPU",
    ],
    [
      `slowest single (${f.single.slowest.repository})`,
      fmtMs(slowest),
      "1.00x",
      "",
      "",
      String(f.peak.single),
      "",
    ],
    [
      `median single`,
      fmtMs(f.single.medianOfMedians),
      x(f.single.medianOfMedians),
      "",
      "",
      "",
      fmtMs(f.cpuMed.single),
    ],
    [
      `${opts.repos} repositories, pool of ${opts.concurrency}`,
      fmtMs(f.poolMed),
      x(f.poolMed),
      `<= ${GOAL_RATIO}x`,
      f.met ? "yes" : "NO",
      String(f.peak.pool),
      fmtMs(f.cpuMed.pool),
    ],
    [
      `${opts.repos} repositories, serial`,
      fmtMs(f.serialMed),
      x(f.serialMed),
      "",
      "",
      String(f.peak.serial),
      fmtMs(f.cpuMed.serial),
    ],
  ];
}
