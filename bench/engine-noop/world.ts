/**
 * bench:engine-noop's world: the real stack (test/support/real-stack.ts) with two stacks on it, one on the
 * sample platform (5 files) and one on a platform-sized copy of it, both already up, so every measured run
 * is a no-op. A compiled-ahead project beside the program copy runs the same stacks without ts-node.
 */
import { cpSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "../../lib/local/stack";
import {
  commitSource,
  localStackConfig,
  type RealStack,
  run,
  startRealStack,
  upPastRegistryRace,
  writeStackConfig,
} from "../../test/support/real-stack";
import { commitTree, platformTreeShape, writePlatformTree } from "./platform-tree";

export const TREES = ["small", "platform"] as const;
export type Tree = (typeof TREES)[number];

/** The program as it is measured: the ways Pulumi can run it. */
export const VARIANTS = [
  "ts-node, eager @pulumi/aws (before)",
  "ts-node (this branch)",
  "compiled ahead",
] as const;
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
 * A compiled-ahead copy of the program in <copy>/compiled: tsc's output with the project's settings, and a
 * Pulumi.yaml without ts-node. A project of its own rather than `main: dist/index.js`, because Pulumi runs
 * the program with `main`'s folder as its working directory, and the program resolves its paths from there.
 * The stacks' paths are absolute, so both projects declare the very same resources.
 */
async function compileAhead(s: RealStack, stacks: string[]): Promise<string> {
  const out = join(s.dir, "compiled");
  const tsc = join(PROJECT, "node_modules", ".bin", "tsc");
  const r = await run(tsc, ["-p", "tsconfig.json", "--noEmit", "false", "--outDir", out], {
    cwd: s.dir,
    env: process.env,
  });
  if (r.code !== 0) throw new Error(`tsc in the program copy failed:\n${r.stdout}${r.stderr}`);
  const yaml = readFileSync(join(s.dir, "Pulumi.yaml"), "utf8");
  if (!yaml.includes("typescript: true")) throw new Error("Pulumi.yaml: no typescript option to turn off");
  writeFileSync(join(out, "Pulumi.yaml"), yaml.replace("typescript: true", "typescript: false"));
  const pkg = JSON.parse(readFileSync(join(s.dir, "package.json"), "utf8"));
  writeFileSync(join(out, "package.json"), JSON.stringify({ ...pkg, main: "index.js" }));
  symlinkSync(join(PROJECT, "node_modules"), join(out, "node_modules"));
  for (const stack of stacks) cpSync(join(s.dir, `Pulumi.${stack}.yaml`), join(out, `Pulumi.${stack}.yaml`));
  return out;
}

function variantWriter(s: RealStack, compiledDir: string): (v: Variant) => string {
  const indexTs = readFileSync(join(s.dir, "index.ts"), "utf8");
  return (v) => {
    // Before this branch, components/ imported @pulumi/aws at the top: the same load, on every stack.
    const eager = v === "ts-node, eager @pulumi/aws (before)";
    writeFileSync(join(s.dir, "index.ts"), eager ? `import "@pulumi/aws";\n${indexTs}` : indexTs);
    return v === "compiled ahead" ? compiledDir : s.dir;
  };
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
    const compiledDir = await compileAhead(s, Object.values(stackName));
    for (const name of Object.values(stackName)) {
      const up = await upPastRegistryRace(s.pulumi, name);
      if (up.code !== 0)
        throw new Error(`first up of ${name} failed:\n${(up.stdout + up.stderr).slice(-3000)}`);
    }
    return {
      stack: s,
      stackName,
      platformTree: { files: opts.files, dirs: opts.dirs, bytes: big.bytes },
      use: variantWriter(s, compiledDir),
    };
  } catch (err) {
    await s.stop();
    throw err;
  }
}
