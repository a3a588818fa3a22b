import { describe, expect, it } from "vitest";
import { summarise } from "./summary";

const image = (digest: string) => ({
  repository: "r/x",
  ref: `r/x:t@${digest}`,
  digest,
  tags: ["r/x:t", "r/x:latest"],
});

describe("the local stack's summary", () => {
  it("names what was built and what was unchanged, the digests, tags, pin and time", () => {
    const out = summarise(
      { platform: image("sha256:a"), "platform-agent": image("sha256:b") },
      { platform: image("sha256:a"), "platform-agent": image("sha256:c") },
      { "platform-agent": "r/x@sha256:c" },
      75_000,
    );
    expect(out).toContain("  platform: sha256:a\n    r/x:t\n    r/x:latest");
    expect(out).toContain("  runtime pin platform-agent: r/x@sha256:c");
    expect(out).toContain("  built: platform-agent\n  unchanged: platform");
    expect(out).toContain("took 1m15s");
  });

  it("a first run built everything", () => {
    const out = summarise(undefined, { platform: image("sha256:a") }, {}, 1000);
    expect(out).toContain("built: platform\n  unchanged: nothing");
  });
});
