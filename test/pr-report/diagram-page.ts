// A page on 127.0.0.1 (port 0) that draws Mermaid text with mermaid's own browser bundle from node_modules,
// for the browser test: only this page and the bundle are served, nothing from outside the machine.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

const BUNDLE = path.join(__dirname, "..", "..", "node_modules", "mermaid", "dist", "mermaid.min.js");

// GitHub draws with securityLevel strict; so does this page. renderDiagram resolves with what was drawn
// or the parser's error, never throws.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><script src="/mermaid.min.js"></script>
<style>body { margin: 0; background: #fff; font-family: sans-serif; } #out { display: inline-block; padding: 16px; }</style>
</head><body><div id="out"></div><script>
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
  let n = 0;
  window.renderDiagram = async (source) => {
    const out = document.getElementById("out");
    out.innerHTML = "";
    try {
      await mermaid.parse(source);
      const { svg } = await mermaid.render("diagram" + n++, source);
      out.innerHTML = svg;
      return { ok: true };
    } catch (err) {
      return { ok: false, error: String(err && err.message || err) };
    }
  };
</script></body></html>`;

export interface DiagramPage {
  url: string;
  close(): Promise<void>;
}

export async function serveDiagramPage(): Promise<DiagramPage> {
  const bundle = readFileSync(BUNDLE);
  const server: Server = createServer((req, res) => {
    if (req.url === "/mermaid.min.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    } else if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
