import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-schema";
import { DockerfileGateError } from "./dockerfile-gate";
import { errorText, failFast } from "./fail-fast";

describe("how the program fails", () => {
  it("bad input is shown as its message alone; anything else keeps its stack", () => {
    expect(errorText(new ConfigError(["molecule-images:x: bad"]))).toBe(
      "invalid stack configuration:\n  - molecule-images:x: bad",
    );
    expect(errorText(new DockerfileGateError(["p: D:1: m"]))).toMatch(/^the Dockerfiles do not match/);
    expect(errorText(new pulumi.RunError("stop"))).toBe("stop");
    expect(errorText(new TypeError("boom"))).toMatch(/^TypeError: boom\n\s+at /);
  });

  it("outside the engine (no monitor) the error propagates unchanged", async () => {
    const err = new Error("x");
    await expect(failFast(() => Promise.reject(err))()).rejects.toBe(err);
    await expect(failFast(async () => 7)()).resolves.toBe(7);
  });
});
