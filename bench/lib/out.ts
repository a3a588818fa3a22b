/** Every bench leaves its raw numbers in bench/out/<name>, so runs on different machines can be compared. */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OUT_DIR } from "./paths";

/** Writes `text` to bench/out/<name> and returns the file's path. */
export async function writeOutText(name: string, text: string): Promise<string> {
  await mkdir(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, name);
  await writeFile(file, text);
  return file;
}

/** Writes `data` as indented JSON with a final newline to bench/out/<name> and returns the file's path. */
export function writeOutJson(name: string, data: unknown): Promise<string> {
  return writeOutText(name, `${JSON.stringify(data, null, 2)}\n`);
}
