import { describe, expect, it } from "vitest";
import { parseManifest } from "./contract";
import { manifestDifferences } from "./diff";

const A = "a".repeat(40);
const B = "b".repeat(40);
const manifest = (entries: Record<string, unknown[]>) =>
  parseManifest(
    JSON.stringify({ version: 1, plugins: [], workspace_templates: [], org_templates: [], ...entries }),
    "m",
  );
const entry = (name: string, ref: string, repo = `o/${name}`) => ({ name, repo, ref });

describe("manifestDifferences", () => {
  const names = { claimed: "platform/manifest.json", staged: "manifest.json" };

  it("is empty when every entry is pinned alike", () => {
    const m = manifest({ plugins: [entry("p", A)] });
    expect(manifestDifferences(m, m, names)).toEqual([]);
  });

  it("names each entry whose ref or repo differs, or that only one side has", () => {
    const claimed = manifest({ plugins: [entry("p", A), entry("gone", A)], org_templates: [entry("o", A)] });
    const staged = manifest({
      plugins: [entry("p", B), entry("new", A)],
      org_templates: [entry("o", A, "x/o")],
    });
    expect(manifestDifferences(claimed, staged, names)).toEqual([
      "plugins/p: platform/manifest.json pins aaaaaaaaaaaa, manifest.json stages bbbbbbbbbbbb",
      "plugins/new: staged from manifest.json but not listed in platform/manifest.json",
      "org_templates/o: platform/manifest.json says repo o/o, manifest.json stages x/o",
      "plugins/gone: listed in platform/manifest.json but not staged from manifest.json",
    ]);
  });
});
