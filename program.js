// The program's entry (Pulumi.yaml `main`). It runs the compiled build in dist/ when that matches the
// sources: no compiler at run time (ts-node's first run took 13 s against 3.7 s compiled, bench:engine-noop).
// Otherwise (never built, or sources edited since) it runs the TypeScript itself through tsx: a little
// slower, never an old build.
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
