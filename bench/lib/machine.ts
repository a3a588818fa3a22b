/** What the numbers were measured on, recorded beside them: a figure means little without its machine. */
import { readdir, readFile, statfs } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { runGit } from "../../test/support/git-fixtures";
import { REPO_ROOT } from "./paths";

/** The short note the drift benches record. */
export function briefMachine(): { node: string; cpus: number; platform: string } {
  return { node: process.version, cpus: os.cpus().length, platform: `${os.platform()} ${os.release()}` };
}

/** The size note the engine benches print in their headings. */
export function machineSize(): { cores: number; memoryGiB: number } {
  return { cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30) };
}

export async function gitVersion(): Promise<string> {
  return (await runGit(["--version"])).stdout.trim();
}

const FS_TYPES: Record<number, string> = {
  61267: "ext2/3/4",
  16914836: "tmpfs",
  1481003842: "xfs",
  2435016766: "btrfs",
  2035054128: "overlayfs",
};

/** A statfs type as a name, or its hex magic when it is none of the usual ones. */
export function fsTypeName(type: number): string {
  return FS_TYPES[type] ?? `fs type 0x${type.toString(16)}`;
}

/** PRETTY_NAME from /etc/os-release's text, or undefined. */
export function osPrettyName(osRelease: string): string | undefined {
  return /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1];
}

/** The full note for benches whose numbers depend on the disk and the git version (the stager's). */
export async function machineFacts(tmp: string) {
  const cpus = os.cpus();
  const osRelease = await readFile("/etc/os-release", "utf8").catch(() => "");
  const tsxPkg = JSON.parse(
    await readFile(join(REPO_ROOT, "node_modules", "tsx", "package.json"), "utf8"),
  ) as {
    version: string;
  };
  return {
    node: process.version,
    git: await gitVersion(),
    tsx: tsxPkg.version,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    totalMemBytes: os.totalmem(),
    kernel: os.release(),
    os: osPrettyName(osRelease) ?? os.platform(),
    tmpDir: tmp,
    tmpFs: fsTypeName((await statfs(tmp)).type),
    // "<none>" means no journal, which is what makes file creation slow after deletions (see probeCreate in bench/lib/scratch-dir.ts).
    ext4JournalTask: await ext4JournalTasks(),
  };
}

async function ext4JournalTasks(): Promise<Record<string, string>> {
  const devices = (await readdir("/sys/fs/ext4").catch(() => [] as string[])).filter((d) => d !== "features");
  const read = async (d: string) =>
    (await readFile(`/sys/fs/ext4/${d}/journal_task`, "utf8").catch(() => "unknown")).trim();
  return Object.fromEntries(await Promise.all(devices.map(async (d) => [d, await read(d)])));
}

export type MachineFacts = Awaited<ReturnType<typeof machineFacts>>;
