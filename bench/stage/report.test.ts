import { describe, expect, it } from "vitest";
import { strip } from "./report";
import { measured } from "./test-runs";

describe("strip", () => {
  it("drops the output streams and records quietness and other load in cores", () => {
    const s = strip(measured({ wallMs: 2000, otherMs: 1000, stdout: "{}", stderr: "noise" }));
    expect(s).not.toHaveProperty("stdout");
    expect(s).not.toHaveProperty("stderr");
    expect(s.quiet).toBe(false);
    expect(s.otherCores).toBe(0.5);
    expect(s.wallMs).toBe(2000);
  });
});
