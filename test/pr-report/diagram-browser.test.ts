// The diagram each fixture's report carries, drawn by mermaid in a real browser: Debian's Chromium, headless,
// driven by playwright-core, on a page served on loopback. It must draw without a syntax error, with one
// node per image (and the pins box), one edge per base; a PNG of each is kept and its path printed.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DiagramPage, serveDiagramPage } from "./diagram-page";
import { diagramCases, diagramOf } from "./diagrams";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const unavailable = existsSync(CHROMIUM)
  ? undefined
  : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
if (unavailable && process.env.CI === "true")
  throw new Error(`the diagram browser test cannot run in CI: ${unavailable}`);
if (unavailable) console.warn(`diagram browser test skipped (not in CI): ${unavailable}`);

interface Drawn {
  ok: boolean;
  error?: string;
  nodes: number;
  clusters: number;
  edges: number;
  text: string;
  /** Elements a label could only hold if its markup had got through. */
  injected: number;
  errorShown: boolean;
}

async function draw(page: Page, source: string): Promise<Drawn> {
  const result = (await page.evaluate(
    (s) => (globalThis as never as { renderDiagram: (s: string) => unknown }).renderDiagram(s),
    source,
  )) as {
    ok: boolean;
    error?: string;
  };
  const svg = page.locator("#out svg");
  const count = (css: string) => page.locator(`#out svg ${css}`).count();
  return {
    ...result,
    nodes: await count("g.node"),
    clusters: await count("g.cluster"),
    edges: await count(":is(.edgePaths path, path.flowchart-link)"),
    text: result.ok ? ((await svg.textContent()) ?? "") : "",
    injected: await count(":is(img, script, b, a)"),
    // Mermaid's own error diagram ("Syntax error in text"), should it draw one instead of throwing.
    errorShown: (await count(":is(.error-icon, .error-text)")) > 0,
  };
}

describe.skipIf(unavailable !== undefined)("the image diagram in a real browser", () => {
  let server: DiagramPage;
  let browser: Browser;
  let page: Page;
  const out = mkdtempSync(path.join(tmpdir(), "pr-report-diagrams-"));

  beforeAll(async () => {
    server = await serveDiagramPage();
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 2 });
    await page.goto(server.url);
    await page.waitForFunction(() => "renderDiagram" in globalThis);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("a diagram with a syntax error is caught (the check can fail)", async () => {
    const drawn = await draw(page, 'flowchart TD\n  img0["a"b"]');
    expect(drawn.ok).toBe(false);
    expect(drawn.error).toMatch(/Parse error|Syntax error|Expecting/i);
  });

  it.each(diagramCases().map((c) => [c.fixture, c] as const))("%s draws", async (fixture, c) => {
    const source = diagramOf(c.report);
    expect(source).toBeDefined();
    const drawn = await draw(page, source ?? "");
    expect(drawn.error).toBeUndefined();
    expect(drawn.ok).toBe(true);
    expect(drawn.errorShown).toBe(false);
    expect(drawn.nodes).toBe(c.images + (c.pins ? 1 : 0));
    expect(drawn.clusters).toBe(c.pins ? 1 : 0);
    expect(drawn.edges).toBe((source?.match(/ --> /g) ?? []).length);
    expect(drawn.injected).toBe(0);
    expect(drawn.text).toContain(c.expectText);
    const png = path.join(out, fixture.replace(/\.json$/, ".png"));
    await page.locator("#out").screenshot({ path: png });
    console.log(`diagram screenshot: ${png}`);
    expect(existsSync(png)).toBe(true);
  });
});
