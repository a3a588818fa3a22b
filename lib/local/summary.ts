/**
 * The closing summary of `npm run local`: each image with its digest and tags, the runtime pin, what was
 * built and what was unchanged (by comparing the stack's outputs before and after), and the time taken.
 */
import { formatDuration } from "./progress";

export type ImagesOutput = Record<
  string,
  { repository: string; ref: string; digest: string; tags: string[] }
>;

export function summarise(
  before: ImagesOutput | undefined,
  after: ImagesOutput,
  pins: unknown,
  elapsedMs: number,
): string {
  const lines = ["", "local stack: summary"];
  const built: string[] = [];
  const unchanged: string[] = [];
  for (const [name, image] of Object.entries(after ?? {})) {
    (before?.[name]?.digest === image.digest ? unchanged : built).push(name);
    lines.push(`  ${name}: ${image.digest}`);
    for (const tag of image.tags) lines.push(`    ${tag}`);
  }
  for (const [pin, ref] of Object.entries((pins ?? {}) as Record<string, string>)) {
    lines.push(`  runtime pin ${pin}: ${ref}`);
  }
  lines.push(`  built: ${built.join(", ") || "nothing"}`);
  lines.push(`  unchanged: ${unchanged.join(", ") || "nothing"}`);
  lines.push(`  took ${formatDuration(elapsedMs)}`);
  return lines.join("\n");
}
