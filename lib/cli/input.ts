/** Reading a file the user named, where a file that is not there is their mistake (exit 2), not a crash. */
import { readFile } from "node:fs/promises";
import { UserError } from "./user-error";

/** The file's text; a failure is a UserError `<named>: cannot read (<errno code>)`, `named` being the file. */
export async function readInput(file: string, named = file): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new UserError(`${named}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}
