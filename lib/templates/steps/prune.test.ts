import { describe, expect, it } from "vitest";
import { strayNames, strayRecords } from "./prune";

const wanted = new Set(["alpha", "beta"]);

describe("strayNames: what a list directory holds beyond the manifest's entries", () => {
  it("selects every other name, dot-entries and leftovers included, sorted", () => {
    expect(strayNames(["zeta", "beta", ".DS_Store", "alpha", "gone", ".tmp-0123abcd-alpha"], wanted)).toEqual(
      [".DS_Store", ".tmp-0123abcd-alpha", "gone", "zeta"],
    );
  });

  it("selects nothing when the directory holds exactly the entries", () => {
    expect(strayNames(["beta", "alpha"], wanted)).toEqual([]);
    expect(strayNames([], new Set())).toEqual([]);
  });
});

describe("strayRecords: what the bookkeeping holds beyond the entries' records", () => {
  it("keeps <entry>.json only, in the order the directory lists them", () => {
    expect(
      strayRecords(
        ["gone.json", "alpha.json", ".tmp-0123abcd", "beta", "beta.json.tmp", "beta.json"],
        wanted,
      ),
    ).toEqual(["gone.json", ".tmp-0123abcd", "beta", "beta.json.tmp"]);
  });

  it("a name that only ends in an entry's name is no record of it", () => {
    expect(strayRecords(["xalpha.json", "alpha.JSON"], wanted)).toEqual(["xalpha.json", "alpha.JSON"]);
  });
});
