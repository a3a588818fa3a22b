import { describe, expect, it } from "vitest";
import type { TreeEntry } from "../git/tree-object";
import { TreeError } from "../tree";
import { verifyCommit } from "./verify";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const file = (path: string, mode = "100644"): TreeEntry => ({
  mode,
  type: mode === "160000" ? "commit" : "blob",
  oid: "a".repeat(40),
  path,
});
const none = new Map<string, string>();

describe("verifyCommit", () => {
  it("accepts a workspace template with its config.yaml, and a plugin with no required file", () => {
    expect(() => verifyCommit("workspace_templates", SHA, [file("config.yaml")], none)).not.toThrow();
    expect(() => verifyCommit("plugins", SHA, [file("x/y.txt")], none)).not.toThrow();
  });

  it("a workspace template without config.yaml is refused as missing, naming the ref", () => {
    expect(() => verifyCommit("workspace_templates", SHA, [file("README.md")], none)).toThrow(
      new TreeError(`required file missing at ${SHA}: config.yaml is missing`),
    );
  });

  it("a config.yaml that is no regular file is refused as such", () => {
    expect(() => verifyCommit("workspace_templates", SHA, [file("config.yaml/a")], none)).toThrow(
      `required file not a regular file at ${SHA}: config.yaml is a directory, not a regular file (100644 or 100755)`,
    );
    expect(() =>
      verifyCommit(
        "workspace_templates",
        SHA,
        [file("config.yaml", "120000")],
        new Map([["config.yaml", "x"]]),
      ),
    ).toThrow(/^required file not a regular file at .*: config\.yaml is a symlink \(mode 120000\)/);
  });

  it("checks the tree's paths and links once the required files are there", () => {
    const links = new Map([["up", "../outside"]]);
    expect(() => verifyCommit("plugins", SHA, [file("up", "120000")], links)).toThrow(
      "up: symlink resolves outside the template (-> ../outside)",
    );
    expect(() => verifyCommit("org_templates", SHA, [file("sub", "160000")], none)).toThrow(
      "sub: submodules are not supported (no content to stage)",
    );
  });
});
