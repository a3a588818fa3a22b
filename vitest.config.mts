import { defineConfig } from "vitest/config";

// Tiers are folders: unit tests sit beside the pure modules in lib/, and each folder under test/ is a
// black-box tier. `vitest run --project <name>` runs one; a new test file joins its folder's tier.
const TIERS = {
  // Pure logic, no process, server or disk beyond a temp dir (the benches' helpers too).
  unit: ["lib/**/*.test.ts", "components/**/*.test.ts", "bench/**/*.test.ts"],
  // The program under Pulumi's mock runtime: config, graph, gate, resources.
  program: ["test/program/**/*.test.ts"],
  // The stager against real git and misbehaving HTTP servers.
  templates: ["test/templates/**/*.test.ts"],
  // The drift check against real registries, moto and misbehaving servers.
  drift: ["test/drift/**/*.test.ts"],
  "pr-report": ["test/pr-report/**/*.test.ts"],
  // The workflows and package scripts as CI runs them.
  ci: ["test/ci/**/*.test.ts"],
  // The real Pulumi engine, docker-build and BuildKit (root on Linux, `npm run engine`).
  engine: ["test/engine/**/*.test.ts"],
};

export default defineConfig({
  test: {
    // Real git, real servers: generous timeouts, and no parallel files fighting over 2 cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    projects: Object.entries(TIERS).map(([name, include]) => ({
      extends: true,
      test: { name, include },
    })),
  },
});
