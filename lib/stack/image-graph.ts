/**
 * The image graph: which image builds on which. Ordering comes from this data, never from step order or
 * naming conventions (a pipeline that built the child before its base shipped it on a month-old base), and
 * every way the graph can be wrong is an error before any resource is declared.
 */
import type { Manifest } from "../manifest/contract";
import { type ImageConfig, TEMPLATES_DIR, templateEntryOf } from "./config-schema";

export class GraphError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid image graph:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "GraphError";
  }
}

/**
 * Checks the graph and returns the images parents-first. With a manifest, also checks that every template
 * an image bakes in is one the manifest stages (an image once baked an empty directory because the manifest
 * lacked its template).
 */
export function orderImages(images: ImageConfig[], manifest?: Manifest): ImageConfig[] {
  const problems: string[] = [];
  const byName = new Map<string, ImageConfig>();
  const byRepository = new Map<string, string>();
  for (const image of images) {
    if (byName.has(image.name)) problems.push(`images: "${image.name}" is declared twice`);
    byName.set(image.name, image);
    const other = byRepository.get(image.repository);
    if (other !== undefined) {
      problems.push(`images: "${other}" and "${image.name}" share repository ${image.repository}`);
    } else byRepository.set(image.repository, image.name);
  }
  for (const image of images) {
    if (image.base !== undefined && !byName.has(image.base)) {
      problems.push(
        `images.${image.name}.base: unknown image "${image.base}" (known: ${[...byName.keys()].join(", ")})`,
      );
    }
    if (image.templateDir) {
      const entry = templateEntryOf(image.templateDir.path);
      if (!entry) {
        problems.push(
          `images.${image.name}.templateDir.path: "${image.templateDir.path}" is not a staged template (expected ${TEMPLATES_DIR}/<list dir>/<name>)`,
        );
      } else if (manifest && !manifest[entry.list].some((e) => e.name === entry.name)) {
        problems.push(
          `images.${image.name}.templateDir: the manifest has no ${entry.list} entry "${entry.name}", so nothing stages ${image.templateDir.path}`,
        );
      }
    }
  }

  const ordered: ImageConfig[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (image: ImageConfig, path: string[]): void => {
    const seen = state.get(image.name);
    if (seen === "done") return;
    if (seen === "visiting") {
      const cycle = [...path.slice(path.indexOf(image.name)), image.name];
      problems.push(`images: base cycle ${cycle.join(" -> ")}`);
      return;
    }
    state.set(image.name, "visiting");
    const parent = image.base === undefined ? undefined : byName.get(image.base);
    if (parent) visit(parent, [...path, image.name]);
    state.set(image.name, "done");
    ordered.push(image);
  };
  for (const image of images) visit(image, []);

  if (problems.length > 0) throw new GraphError([...new Set(problems)]);
  return ordered;
}
