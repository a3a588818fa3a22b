/**
 * bench:engine-noop's world: the real stack (test/support/real-stack.ts) with two stacks on it, one on the
 * sample platform (5 files) and one on a platform-sized copy of it, both already up, so every measured run
 * is a no-op. Two projects beside the program copy run the same stacks the other ways Pulumi could run the
 * program: with ts-node (as before program.js), and through program.js with no build (tsx).
 */
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "../../lib/local/stack";
import {
  commitSource,
  localStackConfig,
  type RealStack,
  startRealStack,
  upPastRegistryRace,
  writeStackConfig,
} from "../../test/support/real-stack";
import { commitTree, platformTreeShape, writePlatformTree } from "./platform-tree";

export const TREES = ["small", "platform"] as const;
export type Tree = (typeof TREES)[number];

/** The program as it is measured: the ways Pulumi can run it. */
export const VARIANTS = ["ts-node (before)", "tsx (no build)", "compiled (dist/)"] as const;
export type Variant = (typeof VARIANTS)[number];

export interface NoopWorld {
  stack: RealStack;
  stackName: Record<Tree, string>;
  platformTree: { files: number; dirs: number; bytes: number };
  /** Readies a variant's program; returns the project directory to run the CLI in. */
  use(variant: Variant): string;
}

/** The platform-sized source root: the sample platform plus a generated monorepo around it, committed. */
function platformSource(s: RealStack, files: number, dirs: number) {
  const root = join(s.dir, "platform-source");
  cpSync(join(s.dir, "sample-platform"), root, {
    recursive: true,
    filter: (src) => !/\/(\.git|\.tenant-bundle-deps)$/.test(src),
  });
  const bytes = writePlatformTree(root, platformTreeShape({ files, dirs }));
  return { sha: commitTree(root), bytes };
}

/**
 * A project beside the copy that runs the copy's sources its own way: its own Pulumi.yaml and package.json,
 * the sources linked. The stacks' paths are absolute, so every project declares the very same resources.
 */
function sideProject(s: RealStack, name: string, stacks: string[], how: "ts-node" | "tsx"): string {
  const out = join(s.dir, name);
  mkdirSync(out);
  const yaml = readFileSync(join(s.dir, "Pulumi.yaml"), "utf8");
  const entry = /typescript: false\n(?:.*\n)?main: program\.js\n/;
  if (!entry.test(yaml)) throw new Error("Pulumi.yaml: no program.js main to replace");
  const pkg = JSON.parse(readFileSync(join(s.dir, "package.json"), "utf8"));
  if (how === "ts-node") {
    // As the project ran before program.js: Pulumi's own ts-node compile of index.ts.
    writeFileSync(join(out, "Pulumi.yaml"), yaml.replace(entry, "typescript: true\n"));
    writeFileSync(join(out, "package.json"), JSON.stringify({ ...pkg, main: "index.ts" }));
  } else {
    // program.js copied, not linked: Node would resolve a link to the copy, whose dist/ is fresh.
    for (const file of ["Pulumi.yaml", "package.json", "program.js"])
      cpSync(join(s.dir, file), join(out, file));
  }
  for (const entry of ["index.ts", "components", "lib", "tsconfig.json"])
    symlinkSync(join(s.dir, entry), join(out, entry));
  symlinkSync(join(PROJECT, "node_modules"), join(out, "node_modules"));
  for (const stack of stacks) cpSync(join(s.dir, `Pulumi.${stack}.yaml`), join(out, `Pulumi.${stack}.yaml`));
  return out;
}

export async function startNoopWorld(opts: { files: number; dirs: number }): Promise<NoopWorld> {
  const stackName = { small: "noop-small", platform: "noop-platform" };
  const s = await startRealStack(stackName.small);
  try {
    const small = commitSource(s);
    const big = platformSource(s, opts.files, opts.dirs);
    const init = await s.pulumi(["stack", "init", stackName.platform]);
    if (init.code !== 0) throw new Error(`stack init: ${init.stderr}`);
    // Absolute paths, so the compiled-ahead project (another folder) declares the same resources.
    const paths = { manifest: join(s.dir, "manifest.local.json") };
    writeStackConfig(
      s,
      stackName.small,
      localStackConfig(s, small.sha, {
        ...paths,
        tagPrefix: "small",
        sourceRoot: join(s.dir, "sample-platform"),
      }),
    );
    writeStackConfig(
      s,
      stackName.platform,
      localStackConfig(s, big.sha, {
        ...paths,
        tagPrefix: "platform",
        sourceRoot: join(s.dir, "platform-source"),
      }),
    );
    const dirs: Record<Variant, string> = {
      "ts-node (before)": sideProject(s, "ts-node", Object.values(stackName), "ts-node"),
      "tsx (no build)": sideProject(s, "tsx", Object.values(stackName), "tsx"),
      "compiled (dist/)": s.dir,
    };
    for (const name of Object.values(stackName)) {
      const up = await upPastRegistryRace(s.pulumi, name);
      if (up.code !== 0)
        throw new Error(`first up of ${name} failed:\n${(up.stdout + up.stderr).slice(-3000)}`);
    }
    return {
      stack: s,
      stackName,
      platformTree: { files: opts.files, dirs: opts.dirs, bytes: big.bytes },
      use: (variant) => dirs[variant],
    };
  } catch (err) {
    await s.stop();
    throw err;
  }
}
