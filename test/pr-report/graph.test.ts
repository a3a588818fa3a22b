// The image diagram in the PR comment, on the real `pulumi preview --json` fixtures and the ones derived
// from them (a third image, a replaced repository): what the graph holds, and that the size limit takes
// the diagram last.
import { describe, expect, it } from "vitest";
import { REPORT_MARKER } from "../../lib/pr-report/render";
import { bump, diagramCases, diagramOf, renderFixture } from "./diagrams";

const caseOf = (fixture: string) => {
  const found = diagramCases().find((c) => c.fixture === fixture);
  if (!found) throw new Error(`no diagram case for ${fixture}`);
  return found;
};

const nodeLines = (source: string) => source.split("\n").filter((l) => /^ {2}img\d+\[/.test(l));

describe("the image diagram", () => {
  it("comes before the tables, in a mermaid fence", () => {
    const { report } = caseOf("real-pin-bump.json");
    expect(report.indexOf("#### Image graph\n\n```mermaid\nflowchart TD\n")).toBeGreaterThan(0);
    expect(report.indexOf("#### Image graph")).toBeLessThan(report.indexOf("#### Resources"));
  });

  it("the real pin bump: base and child rebuild, the edge base → child, the pin that moved beside them", () => {
    const source = diagramOf(caseOf("real-pin-bump.json").report) ?? "";
    expect(nodeLines(source)).toEqual([
      '  img0["platform<br>molecule-ai/platform<br>rebuilds<br>- templates changed: platform-agent 1887cb3 → aaf8d11<br>- build context changed"]',
      '  img1["platform-agent<br>molecule-ai/molecule-platform-agent<br>rebuilds<br>- templates changed: platform-agent 1887cb3 → aaf8d11<br>- base image changed<br>- build context changed"]',
    ]);
    expect(source).toContain("\n  img0 --> img1\n");
    expect(source).toContain("\n  class img0,img1 rebuild\n");
    expect(source).toContain('\n    pinlist["platform-agent 1887cb3 → aaf8d11"]\n');
  });

  it("a third image: tenant on platform is a second child of the base", () => {
    const source = diagramOf(caseOf("real-third-image.json").report) ?? "";
    expect(nodeLines(source)).toHaveLength(3);
    expect(nodeLines(source)[2]).toContain('img2["tenant<br>molecule-ai/tenant<br>rebuilds<br>');
    expect(nodeLines(source)[2]).toContain("- base image changed");
    expect(source.match(/-->/g)).toHaveLength(2);
    expect(source).toContain("\n  img0 --> img1\n  img0 --> img2\n");
  });

  it("a replaced repository: the image names the move, its unchanged base is drawn too", () => {
    const { report } = caseOf("real-replaced-repository.json");
    const source = diagramOf(report) ?? "";
    expect(nodeLines(source)).toEqual([
      '  img0["platform-agent<br>molecule-ai/platform-agent<br>rebuilds<br>- repository changed: molecule-ai/molecule-platform-agent → molecule-ai/platform-agent"]',
      '  img1["platform<br>unchanged"]',
    ]);
    expect(source).toContain("\n  img1 --> img0\n  class img0 rebuild\n  class img1 unchanged");
    expect(source).not.toContain("pinbox");
    // The list says the same, and not "new commit": the commit did not move.
    expect(report).toContain(
      "- **platform-agent** (`platform-agent-image`, update): repository changed: molecule-ai/molecule-platform-agent → molecule-ai/platform-agent\n",
    );
  });

  it("no changes, real preview with --show-sames (as the workflow runs it): both images drawn unchanged, base → child", () => {
    const { report } = caseOf("real-no-change.json");
    expect(report).toContain("**No changes.**");
    const source = diagramOf(report) ?? "";
    expect(nodeLines(source)).toEqual([
      '  img0["platform<br>molecule-ai/platform<br>unchanged"]',
      '  img1["platform-agent<br>molecule-ai/molecule-platform-agent<br>unchanged"]',
    ]);
    expect(source).toContain("\n  img0 --> img1\n  class img0,img1 unchanged");
    expect(source).not.toContain("rebuild\n");
  });

  it("no changes without --show-sames: no image in the preview, so no diagram (the headline says nothing rebuilds)", () => {
    const report = renderFixture("no-change.json");
    expect(diagramOf(report)).toBeUndefined();
    expect(report).not.toContain("Image graph");
  });

  it("hostile names stay inside their label", () => {
    const source = diagramOf(caseOf("hostile-names.json").report) ?? "";
    const [line] = nodeLines(source);
    expect(nodeLines(source)).toHaveLength(1);
    expect(line?.replaceAll("<br>", "")).toMatch(/^ {2}img0\["[^"<>`|@*\n]*"\]$/);
    expect(line).toContain("#64;mallory #42;#42;bold#42;#42; #60;img src=x onerror=alert(1)#62;");
  });
});

describe("the diagram and the size limit", () => {
  const render = (limit: number) => renderFixture("real-pin-bump.json", { pins: bump(), limit });
  const full = render(100_000);
  /** The smallest limit at which `keep` holds (it holds at the full length and is monotonic in the limit). */
  const smallest = (keep: (out: string) => boolean) => {
    let lo = 1;
    let hi = full.length;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (keep(render(mid))) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };

  it("every row goes before the diagram does", () => {
    const out = render(smallest((o) => o.includes("```mermaid")));
    expect(diagramOf(out)).toBe(diagramOf(full));
    expect(out).not.toMatch(/^\| (update|replace) \|/m);
    expect(out).not.toMatch(/^- \*\*platform/m);
    expect(out).toContain("is too large for a comment and was left out");
  });

  it("the diagram goes last, said in one sentence, before the headline is cut", () => {
    const limit = smallest((o) => !o.includes("_…truncated to the comment size limit._"));
    const out = render(limit);
    expect(out.length).toBeLessThanOrEqual(limit);
    expect(out.startsWith(REPORT_MARKER)).toBe(true);
    expect(out).toContain("**2 to update, 1 to replace**, 4 unchanged.");
    expect(out).toContain("_The image diagram was left out to fit the comment size limit._");
    expect(out).not.toContain("```mermaid");
  });
});
