import { describe, expect, it } from "vitest";
import { countActions } from "./stage-cli";

describe("countActions", () => {
  it("counts the CLI's result entries per action", () => {
    const entries = [{ action: "fetched" }, { action: "unchanged" }, { action: "fetched" }];
    expect(countActions(entries)).toEqual({ fetched: 2, unchanged: 1 });
  });
});
