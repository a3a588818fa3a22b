import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readInput } from "./input";
import { UserError } from "./user-error";

describe("readInput", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "cli-input-"));

  it("gives the file's text", async () => {
    const file = path.join(dir, "in.json");
    writeFileSync(file, "{}\n");
    expect(await readInput(file)).toBe("{}\n");
  });

  it("a file that cannot be read is a UserError (exit 2) naming it and the errno code", async () => {
    const missing = path.join(dir, "missing.json");
    const err = await readInput(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ message: `${missing}: cannot read (ENOENT)`, exitCode: 2 });
    await expect(readInput(dir, `--outputs ${dir}`)).rejects.toThrow(
      `--outputs ${dir}: cannot read (EISDIR)`,
    );
  });
});
