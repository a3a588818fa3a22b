import { describe, expect, it, vi } from "vitest";
import type { PlannedEntry } from "../../manifest/contract";
import { warmVerdict } from "./warm";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const OTHER = "89abcdef0123456789abcdef0123456789abcdef";
const entry: PlannedEntry = { list: "plugins", name: "p", repo: "acme/p", ref: SHA };
const marker = { repo: "acme/p", ref: SHA, digest: "sha256:aa" };

const disk = (present: boolean, intact: boolean) => ({
  present: vi.fn(() => present),
  intact: vi.fn(() => intact),
});

describe("warmVerdict: whether an entry's staged tree can stay", () => {
  it("unchanged when the record names the entry's repo and ref and the tree is intact", () => {
    const d = disk(true, true);
    expect(warmVerdict(entry, marker, d)).toEqual({ state: "unchanged", digest: "sha256:aa" });
    expect(d.intact).toHaveBeenCalledWith(marker);
  });

  it("damaged when the recorded tree is there but no longer hashes to the record", () => {
    expect(warmVerdict(entry, marker, disk(true, false))).toEqual({ state: "damaged" });
  });

  it("cold without reading the tree when the record is absent or names another ref or repo", () => {
    for (const m of [undefined, { ...marker, ref: OTHER }, { ...marker, repo: "acme/fork" }]) {
      const d = disk(true, true);
      expect(warmVerdict(entry, m, d)).toEqual({ state: "cold" });
      expect(d.present).not.toHaveBeenCalled();
      expect(d.intact).not.toHaveBeenCalled();
    }
  });

  it("cold without hashing when the recorded tree is gone", () => {
    const d = disk(false, true);
    expect(warmVerdict(entry, marker, d)).toEqual({ state: "cold" });
    expect(d.intact).not.toHaveBeenCalled();
  });
});
