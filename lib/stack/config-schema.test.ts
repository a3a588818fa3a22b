import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError, LIFECYCLE_DEFAULTS, parseStackSettings, stackConfigSchema } from "./config-schema";

// The zod schema holds the defaults. Pulumi.yaml must declare one for every optional key (the engine treats
// a declared key without one as required) and hands it to the program as if the stack had set it, so each
// must be one that changes nothing.
const PROJECT_FILE = path.join(__dirname, "..", "..", "Pulumi.yaml");
const declared = parse(readFileSync(PROJECT_FILE, "utf8")).config as Record<
  string,
  { type: string; default?: unknown; description: string }
>;

const required = {
  registry: { type: "oci", address: "127.0.0.1:5000" },
  images: [{ name: "base", repository: "molecule-ai/base", dockerfile: "Dockerfile" }],
  sourceRoot: "src",
};

describe("config defaults have one source", () => {
  it("Pulumi.yaml's defaults give exactly the schema's own", () => {
    const withYamlDefaults: Record<string, unknown> = { ...required };
    for (const [key, decl] of Object.entries(declared)) {
      // "" is how Pulumi.yaml says "unset" for a string; the program skips it, as it does here.
      if (decl.default !== undefined && decl.default !== "")
        withYamlDefaults[key.replace(/^molecule-images:/, "")] = decl.default;
    }
    expect(parseStackSettings(withYamlDefaults)).toEqual(parseStackSettings(required));
  });

  it("every optional key has a Pulumi.yaml default, and no required key has one", () => {
    const requiredKeys = Object.keys(required);
    for (const key of Object.keys(stackConfigSchema.shape)) {
      const decl = declared[`molecule-images:${key}`];
      expect(decl, key).toBeDefined();
      if (requiredKeys.includes(key)) expect(decl?.default, key).toBeUndefined();
      else expect(decl?.default, key).toBeDefined();
    }
  });

  it("the lifecycle description quotes the schema's defaults", () => {
    const text = declared["molecule-images:lifecycle"]?.description ?? "";
    expect(text).toContain(`untaggedExpireDays (default ${LIFECYCLE_DEFAULTS.untaggedExpireDays})`);
    expect(text).toContain(`keepTaggedImages (default ${LIFECYCLE_DEFAULTS.keepTaggedImages})`);
    expect(parseStackSettings(required).lifecycle).toEqual(LIFECYCLE_DEFAULTS);
  });
});

describe("parseStackSettings", () => {
  it("names the key of every problem at once", () => {
    try {
      parseStackSettings({ ...required, tagPrefix: "Bad Prefix", lifecycle: { keepTaggedImages: 0 } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems.some((p) => p.startsWith("molecule-images:tagPrefix:"))).toBe(true);
      expect(problems.some((p) => p.startsWith("molecule-images:lifecycle.keepTaggedImages:"))).toBe(true);
    }
  });

  it("reads booleans as Pulumi passes them, as text", () => {
    expect(parseStackSettings({ ...required, cache: "false" }).cache).toBe(false);
    expect(parseStackSettings({ ...required, cache: "true" }).cache).toBe(true);
  });
});
