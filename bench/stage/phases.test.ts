import { describe, expect, it } from "vitest";
import { parseEntryTimings } from "./phases";

describe("parseEntryTimings", () => {
  it("reads the CLI's fetched lines and nothing else", () => {
    const stderr = [
      "stage: fetched plugins/ecc (412 ms)",
      "stage: 2/31 done",
      "stage: fetched workspace_templates/hermes (880 ms)",
      "warning: stage: fetched nothing (1 ms)",
    ].join("\n");
    expect(parseEntryTimings(stderr)).toEqual([
      { entry: "plugins/ecc", ms: 412 },
      { entry: "workspace_templates/hermes", ms: 880 },
    ]);
  });
});
