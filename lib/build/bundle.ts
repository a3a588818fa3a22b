/**
 * The commands' entries as one file each. tsc's output is a tree of small CommonJS modules, and Node
 * resolving and reading a few hundred of them (zod alone is about 80) is most of a command's start-up:
 * bundled, `stage --help` starts in about two thirds of the time. The Pulumi SDK and the AWS SDK stay
 * outside: they are loaded only where a command needs them, resolve files at run time, and are large.
 */
import { join } from "node:path";
import type * as Esbuild from "esbuild";

/** The commands npm runs from dist/cli/ (build.ts itself runs under tsx). */
export const BUNDLED_COMMANDS = ["stage", "drift", "pr-report", "local", "engine"] as const;

export const BUNDLE_EXTERNALS = ["@pulumi/*", "@aws-sdk/*"];

/** Bundles each command over tsc's copy of it in dist/cli/, with a source map beside it. */
export function bundleCommands(projectRoot: string, outDir: string): void {
  const { buildSync } = require("esbuild") as typeof Esbuild;
  buildSync({
    entryPoints: BUNDLED_COMMANDS.map((c) => join(projectRoot, "cli", `${c}.ts`)),
    outdir: join(outDir, "cli"),
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    sourcemap: true,
    external: BUNDLE_EXTERNALS,
    logLevel: "warning",
    absWorkingDir: projectRoot,
  });
}
