import { describe, expect, it } from "vitest";
import { warnings } from "./summary";
import { cliRun, measured, stageRuns } from "./test-runs";

describe("warnings", () => {
  it("says nothing about a clean, quiet bench", () => {
    expect(warnings(stageRuns(), 2)).toEqual([]);
  });

  it("names warm runs that did not find every entry unchanged", () => {
    const runs = stageRuns({ warm: [cliRun({ actions: { unchanged: 1, fetched: 1 } }), cliRun()] });
    expect(warnings(runs, 2)).toEqual(["  1 warm run(s) did not report every entry unchanged"]);
  });

  it("reports a busy machine with its worst run", () => {
    const runs = stageRuns({ startup: [measured({ wallMs: 1000, otherMs: 1500 })] });
    const [line] = warnings(runs, 2);
    expect(line).toMatch(
      /^MACHINE BUSY: in 1 of 6 runs other processes used > 0.2 cores on average \(worst 1.50\)/,
    );
  });

  it("reports leaked processes and requests not answered 200", () => {
    const runs = stageRuns({ startup: [measured({ leaked: true, failedRequests: 2 })] });
    expect(warnings(runs, 2)).toEqual([
      "LEAK: 1 run(s) left processes behind after exiting (killed by the bench)",
      "note: 2 HTTP requests were not answered 200 (retries?)",
    ]);
  });
});
