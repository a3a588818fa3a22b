// The PR report's diagram on each `pulumi preview --json` fixture, as the CLI renders it: shared by the
// graph tier test and the browser test, so both check the very text a comment carries.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseManifest } from "../../lib/manifest/contract";
import { comparePins, pinsFromManifest } from "../../lib/pr-report/pins";
import { parsePreview, sanitizePreview } from "../../lib/pr-report/preview";
import { type ReportInput, renderReport } from "../../lib/pr-report/render";

export const FIXTURES = path.join(__dirname, "..", "fixtures", "preview");

function pinsBetween(base: string, head: string): ReportInput["pins"] {
  const pins = (f: string) =>
    pinsFromManifest(parseManifest(readFileSync(path.join(FIXTURES, f), "utf8"), f));
  return { changes: comparePins(pins(base), pins(head)), source: "base-manifest" };
}

export function renderFixture(file: string, extra: Partial<ReportInput> = {}): string {
  const preview = sanitizePreview(parsePreview(readFileSync(path.join(FIXTURES, file), "utf8"), file), []);
  return renderReport({ preview, ...extra });
}

/** The ```mermaid block's content, or undefined when the report has none. */
export function diagramOf(report: string): string | undefined {
  return /^```mermaid\n([\s\S]*?)\n```$/m.exec(report)?.[1];
}

export interface DiagramCase {
  fixture: string;
  report: string;
  /** Image nodes the drawing must have (the pins box is one more node when pins moved). */
  images: number;
  pins: boolean;
  /** Text the drawing must show, as text (for hostile names: the markup itself, not its effect). */
  expectText: string;
}

/** The pins the real pin bump moved (the real-engine tier's manifests). */
export const bump = () => pinsBetween("manifest-local.json", "manifest-local-bumped.json");

/** Every fixture whose report draws a diagram, with what the drawing must hold. */
export function diagramCases(): DiagramCase[] {
  return [
    {
      fixture: "real-pin-bump.json",
      report: renderFixture("real-pin-bump.json", { pins: bump() }),
      images: 2,
      pins: true,
      expectText: "platform-agent 1887cb3 → aaf8d11",
    },
    {
      fixture: "real-third-image.json",
      report: renderFixture("real-third-image.json", { pins: bump() }),
      images: 3,
      pins: true,
      expectText: "molecule-ai/tenant",
    },
    {
      fixture: "real-replaced-repository.json",
      report: renderFixture("real-replaced-repository.json"),
      images: 2,
      pins: false,
      expectText: "repository changed: molecule-ai/molecule-platform-agent → molecule-ai/platform-agent",
    },
    {
      fixture: "real-no-change.json",
      report: renderFixture("real-no-change.json"),
      images: 2,
      pins: false,
      expectText: "unchanged",
    },
    {
      fixture: "hostile-names.json",
      report: renderFixture("hostile-names.json"),
      images: 1,
      pins: false,
      expectText: "@mallory **bold** <img src=x onerror=alert(1)>",
    },
  ];
}
