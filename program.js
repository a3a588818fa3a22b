// The program's entry (Pulumi.yaml `main`). It runs the compiled build in dist/ when that matches the
// sources, since ts-node compiling the TypeScript on every run was the largest part of a no-op preview
// (bench:engine-noop). Otherwise (never built, or sources edited since) it runs the TypeScript itself
// through tsx: slower, never an old build.
function compiledIsFresh() {
  try {
    const stamp = require("./dist/lib/cli/build-stamp.js");
    const built = stamp.readStamp(__dirname);
    return (
      built !== undefined && stamp.staleSources(built, stamp.currentSources(__dirname, built)).length === 0
    );
  } catch {
    return false;
  }
}

if (compiledIsFresh()) {
  module.exports = require("./dist/index.js");
} else {
  require("tsx/cjs");
  module.exports = require("./index.ts");
}
