// Crash safety: the stager is SIGKILLed (as the OOM killer did to the old clone script) while it
// replaces version A of every entry with version B over a slow HTTP server. Whatever the moment,
// every entry on disk must be a complete A or a complete B, and the next run must finish the job
// and leave nothing behind. Also the destination lock that keeps two stagers apart.

import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { gitEnv, makeTempDir, removeDir } from "../support/git-fixtures";
import { type GitHttpServer, startGitHttpServer } from "../support/git-http-server";
import {
  diffAgainstCommit,
  entryDir,
  failedOutputOf,
  killLiveStages,
  leftovers,
  outputOf,
  PROJECT,
  processesMentioning,
  runStage,
  type StageProcess,
  snapshot,
  stagerPid,
  startStage,
  waitFor,
  writeManifest,
} from "../support/stage-cli";
import { createPlugin, createTemplateSet, manifestOf, type Template } from "../support/stage-fixtures";

let root: string;
let scratch: string;
let server: GitHttpServer;
let entries: Template[];
/** Per entry, snapshots of uninterrupted stages of version A and of version B. */
const reference = new Map<string, { a: string; b: string }>();
let digestB: string;
/** Destinations staged once, uninterrupted, at version A and at version B. */
let refs: { a: string; b: string };
let dirs = 0;

const keyOf = (t: Template) => `${t.list}/${t.name}`;
const dirOf = (dest: string, t: Template) => entryDir(dest, t.list, t.name);
const lockOf = (dest: string) => path.join(dest, ".molecule-stage", "lock");
/** The pid the lock names (it records `{ pid, start }`), or NaN when there is no readable lock. */
const lockPid = async (dest: string): Promise<number> => {
  try {
    return Number(JSON.parse(await readFile(lockOf(dest), "utf8")).pid);
  } catch {
    return Number.NaN;
  }
};

beforeAll(async () => {
  root = await makeTempDir("stage-crash-repos-");
  scratch = await makeTempDir("stage-crash-work-");
  const set = await createTemplateSet(root);
  entries = [...set.all];
  for (let i = 1; i <= 4; i++) entries.push(await createPlugin(root, `crash-${i}`));
  server = await startGitHttpServer({ root });

  // Reference trees from clean stages over file://, independent of the server under test.
  refs = { a: path.join(scratch, "ref-a"), b: path.join(scratch, "ref-b") };
  for (const v of ["a", "b"] as const) {
    const file = await writeManifest(`${refs[v]}.json`, manifestOf(entries, v));
    const out = outputOf(
      await runStage(["--manifest", file, "--dest", refs[v], "--git-base-url", `file://${root}`]),
    );
    if (v === "b") digestB = out.digest;
  }
  for (const t of entries) {
    reference.set(keyOf(t), {
      a: JSON.stringify(await snapshot(dirOf(refs.a, t))),
      b: JSON.stringify(await snapshot(dirOf(refs.b, t))),
    });
  }
});

afterEach(killLiveStages);

afterAll(async () => {
  await server?.close();
  await Promise.all([root, scratch].filter(Boolean).map(removeDir));
});

async function freshDir(label: string): Promise<string> {
  const dir = path.join(scratch, `${++dirs}-${label}`);
  await mkdir(dir);
  return dir;
}

/** Which reference version an entry's directory is, judged by an independent tree snapshot. */
async function versionOnDisk(dest: string, t: Template): Promise<"a" | "b" | "neither"> {
  const snap = JSON.stringify(await snapshot(dirOf(dest, t)).catch(() => ["(missing)"]));
  const ref = reference.get(keyOf(t));
  return snap === ref?.a ? "a" : snap === ref?.b ? "b" : "neither";
}

const fetchedCount = (p: StageProcess) => (p.stderr().match(/^stage: fetched /gm) ?? []).length;

type Moment = (p: StageProcess, dest: string, pid: number) => Promise<void>;

/** [when, how to wait for that moment, whether the killed run must have left its lock behind] */
const moments: Array<[string, Moment, boolean]> = [
  ["as soon as the stager process exists", async () => {}, false],
  // From here on the lock is held: the next run must take over a lock whose owner is dead.
  [
    "once it holds the lock",
    // "Held" is when the lock names the stager.
    (_, dest, pid) => waitFor(async () => (await lockPid(dest)) === pid),
    true,
  ],
  ["after the first entry is fetched", (p) => waitFor(() => fetchedCount(p) >= 1), true],
  ["after half the entries are fetched", (p) => waitFor(() => fetchedCount(p) >= entries.length / 2), true],
];

describe("kill -9 of the stager mid-run", () => {
  it.each(moments)(
    "killed %s: every entry is a complete A or B; a re-run finishes at B cleanly",
    async (_, moment, lockLeft) => {
      const dir = await freshDir("crash");
      const dest = path.join(dir, "deps");
      const args = (file: string) => ["--manifest", file, "--dest", dest, "--git-base-url", server.url];

      // Version A in place, as a finished run leaves it (markers record repo and ref, not the URL).
      execFileSync("cp", ["-a", refs.a, dest]);

      // Slow enough that the kill lands while fetches are in flight.
      server.options.latencyMs = 150;
      const fileB = await writeManifest(path.join(dir, "b.json"), manifestOf(entries, "b"));
      const proc = startStage([...args(fileB), "--concurrency", "2", "--retry-delay-ms", "50"]);
      // tsx runs the stager in a child node process: that one is the stager, so that one is killed.
      const pid = await stagerPid(proc.child.pid ?? -1);
      await moment(proc, dest, pid);
      process.kill(pid, "SIGKILL");
      const killed = await proc.done;
      expect(killed.code).not.toBe(0);
      expect(killed.stdout).toBe("");
      expect((await processesMentioning(dest)).stagers).toEqual([]);
      if (lockLeft) expect(await lockPid(dest)).toBe(pid);

      // Nothing kills the git processes the stager started along with it (in practice they die
      // soon after, on their closed stderr pipe): wait until none is left, so that what follows
      // sees a disk nobody is writing to.
      await waitFor(async () => (await processesMentioning(dest)).others.length === 0, 30_000);

      // Complete A or complete B at every entry's name, never a mix, a partial tree or nothing.
      const state: Record<string, string> = {};
      for (const t of entries) state[keyOf(t)] = await versionOnDisk(dest, t);
      expect(Object.values(state)).not.toContain("neither");
      // An entry reported as fetched before the kill is B: the report comes after the swap.
      for (const m of killed.stderr.matchAll(/^stage: fetched (\S+)/gm))
        expect(state[m[1] ?? ""], m[1]).toBe("b");

      server.options.latencyMs = 0;
      const out = outputOf(await runStage(args(fileB)));
      expect(out.digest).toBe(digestB);
      for (const t of entries) {
        expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.b), keyOf(t)).toEqual([]);
        // What was still A must be fetched; what is already B may be kept.
        const action = out.entries.find((e) => `${e.list}/${e.name}` === keyOf(t))?.action;
        if (state[keyOf(t)] === "a") expect(action, keyOf(t)).toBe("fetched");
        else expect(["fetched", "unchanged"], keyOf(t)).toContain(action);
      }
      // Nothing left of the interrupted run: no build or swap directories, no temp markers, no lock.
      expect(await leftovers(dest)).toEqual([]);
      expect(existsSync(lockOf(dest))).toBe(false);
      const stateDir = path.join(dest, ".molecule-stage");
      for (const list of ["plugins", "workspace_templates", "org_templates"]) {
        for (const f of await readdir(path.join(stateDir, list)))
          expect(f, `${list}/${f}`).toMatch(/^[^.].*\.json$/);
      }
      // And a further run agrees that everything is in place.
      const warm = outputOf(await runStage(args(fileB)));
      expect(warm.entries.map((e) => e.action)).toEqual(entries.map(() => "unchanged"));
    },
  );
});

describe("the destination lock", () => {
  it("refuses a second stager on the same destination while the first runs, without disturbing it", async () => {
    const dir = await freshDir("lock");
    const dest = path.join(dir, "deps");
    const file = await writeManifest(path.join(dir, "b.json"), manifestOf(entries, "b"));
    const args = ["--manifest", file, "--dest", dest, "--git-base-url", server.url, "--concurrency", "2"];
    // Each request of the first run takes a second until the second run is over, so the first is
    // certainly still running then, however slow the machine; then the rest goes at full speed.
    server.options.latencyMs = 1000;
    const first = startStage(args);
    const pid = await stagerPid(first.child.pid ?? -1);
    await waitFor(() => existsSync(lockOf(dest)));

    const second = await runStage(args);
    expect(first.child.exitCode).toBeNull();
    server.options.latencyMs = 0;
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`another stager (pid ${pid}) is staging into this directory`);
    // It staged nothing, and its document says so: every entry failed, with the reason.
    const refused = failedOutputOf(second);
    expect(refused.digest).toBeNull();
    expect(refused.entries).toHaveLength(entries.length);
    for (const e of refused.entries)
      expect(e).toMatchObject({ action: "failed", error: expect.stringContaining(`pid ${pid}`) });
    // The loser must not have released the winner's lock.
    expect(await lockPid(dest)).toBe(pid);

    const out = outputOf(await first.done);
    expect(out.digest).toBe(digestB);
    for (const t of entries)
      expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.b), keyOf(t)).toEqual([]);
    expect(existsSync(lockOf(dest))).toBe(false);
  });

  it("takes over an empty lock file (a kill between creating the lock and writing its pid)", async () => {
    const dir = await freshDir("empty-lock");
    const dest = path.join(dir, "deps");
    const file = await writeManifest(path.join(dir, "b.json"), manifestOf(entries, "b"));
    execFileSync("cp", ["-a", refs.a, dest]);
    await writeFile(lockOf(dest), "");
    const out = outputOf(
      await runStage(["--manifest", file, "--dest", dest, "--git-base-url", `file://${root}`]),
    );
    expect(out.digest).toBe(digestB);
    expect(existsSync(lockOf(dest))).toBe(false);
  });

  // A killed stager whose parent never reaps it (an init that does not, a shell that exec'd away) stays a
  // zombie: its pid answers kill(pid, 0) and keeps its start time, yet it holds nothing any more.
  it("takes over the lock of a killed stager that stays a zombie (its parent never reaps it)", async () => {
    const dir = await freshDir("zombie-lock");
    const dest = path.join(dir, "deps");
    const file = await writeManifest(path.join(dir, "a.json"), manifestOf(entries, "a"));
    const args = ["--manifest", file, "--dest", dest, "--git-base-url", server.url];
    // One process (node with the tsx loader, no tsx relay) in the background of a shell that then execs
    // sleep: the stager's parent is now sleep, which never waits for children.
    server.options.latencyMs = 1000;
    const holder = spawn(
      "sh",
      [
        "-c",
        '"$0" --import tsx cli/stage.ts "$@" >/dev/null 2>&1 & echo $!; exec sleep 60',
        process.execPath,
        ...args,
      ],
      { cwd: PROJECT, env: gitEnv(), stdio: ["ignore", "pipe", "ignore"] },
    );
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        holder.stdout?.once("data", (c: Buffer) => resolve(Number(c.toString().trim())));
        holder.once("error", reject);
      });
      await waitFor(async () => (await lockPid(dest)) === pid);
      process.kill(pid, "SIGKILL");
      const state = () =>
        readFile(`/proc/${pid}/stat`, "utf8").then((s) =>
          s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3),
        );
      await waitFor(async () => (await state()) === "Z");
      // Its git children outlive it: wait until nothing writes into dest any more.
      await waitFor(async () => (await processesMentioning(dest)).others.length === 0, 30_000);
      server.options.latencyMs = 0;

      const run = await runStage(args);
      expect(run.code, run.stderr).toBe(0);
      expect(await state()).toBe("Z"); // still there: the lock was taken over, not waited out
      for (const t of entries)
        expect(await diffAgainstCommit(dirOf(dest, t), t.fixture.dir, t.a), keyOf(t)).toEqual([]);
      expect(existsSync(lockOf(dest))).toBe(false);
    } finally {
      server.options.latencyMs = 0;
      holder.kill("SIGKILL");
    }
  });

  // After a kill -9 the dead stager's pid is free for reuse (soon, in containers, where pids are small
  // and repeat from job to job). The lock records the holder's start time too, so a live process with
  // the same pid but another start time does not block staging forever.
  it("takes over a stale lock whose pid now belongs to an unrelated process", async () => {
    const dir = await freshDir("stale-lock");
    const dest = path.join(dir, "deps");
    const file = await writeManifest(path.join(dir, "a.json"), manifestOf(entries, "a"));
    const args = ["--manifest", file, "--dest", dest, "--git-base-url", `file://${root}`];
    execFileSync("cp", ["-a", refs.a, dest]);

    // Stands in for whatever process got the dead stager's pid (ours, so we can end it by pid).
    const unrelated = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      await writeFile(lockOf(dest), JSON.stringify({ pid: unrelated.pid, start: "1" }));
      const run = await runStage(args);
      expect(run.code, run.stderr).toBe(0);
    } finally {
      unrelated.kill("SIGKILL");
    }
  });
});
