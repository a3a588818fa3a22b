/**
 * What the local engine is built from: one Go wrapper module per recipe, each pinned to a module version
 * that this machine's Go module proxy serves.
 *
 * The versions follow the npm pins (package.json). Where the proxy refuses the module a pin names, the recipe
 * says what it uses instead and why; `npm run engine` prints those notes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../os/project-root";

export interface Recipe {
  /** Cache key prefix and progress label. */
  id: string;
  /** What the user sees: the version this recipe provides. */
  version: string;
  /** The wrapper module's requirements (module -> version). */
  require: Record<string, string>;
  replace?: Record<string, string>;
  exclude?: string[];
  /** Small local modules that replace refused ones: each is written under `dir` and replaces `module`. */
  shims?: Array<{ module: string; dir: string; files: Record<string, string> }>;
  /** Main packages to build; each gives a binary named after its last path element. */
  mains: string[];
  ldflags?: string[];
  tags?: string[];
  /** Why this recipe differs from the plain pin, if it does. */
  note?: string;
}

const PROJECT = PROJECT_ROOT;

function npmVersion(pkg: string, field: "version" | "pulumi" = "version"): string {
  const json = JSON.parse(readFileSync(join(PROJECT, "node_modules", pkg, "package.json"), "utf8"));
  const version = field === "pulumi" ? json.pulumi?.version : json.version;
  if (typeof version !== "string")
    throw new Error(`node_modules/${pkg}/package.json has no ${field} version`);
  return version;
}

/** The CLI version the npm `pulumi` launcher runs: the one it looks for under $PULUMI_HOME/versions. */
export const pulumiVersion = (): string => npmVersion("pulumi");
/** The docker-build plugin version that @pulumi/docker-build asks the engine for. */
export const dockerBuildVersion = (): string => npmVersion("@pulumi/docker-build", "pulumi");

export const BUILDKIT_VERSION = "v0.34.2";
/**
 * The newest sdk/v3 release on the proxy that still carries the Node.js language host as a package of the SDK
 * module. Since then it lives in a module of its own (sdk/nodejs/cmd/pulumi-language-nodejs/v3), untagged,
 * whose pseudo-versions the proxy refuses. The engine talks to it over the stable LanguageRuntime protocol and
 * falls back for the methods it predates; the Node SDK itself (@pulumi/pulumi) is the npm pin.
 */
export const LANGUAGE_HOST_SDK = "v3.68.0";

export function recipes(): Recipe[] {
  const cli = pulumiVersion();
  const dockerBuild = dockerBuildVersion();
  return [
    {
      id: "pulumi",
      version: cli,
      require: { "github.com/pulumi/pulumi/pkg/v3": `v${cli}`, "github.com/pulumi/pulumi/sdk/v3": `v${cli}` },
      // pkg/v3's own replaces, without the ../sdk one: those apply only inside its repository, and are why
      // `go install ...@version` refuses the module.
      replace: {
        "github.com/atotto/clipboard": "github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e",
      },
      mains: ["github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"],
      ldflags: [`-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${cli}`],
      tags: ["osusergo", "grpcnotrace"],
    },
    {
      id: "pulumi-language-nodejs",
      version: LANGUAGE_HOST_SDK,
      require: { "github.com/pulumi/pulumi/sdk/v3": LANGUAGE_HOST_SDK },
      mains: ["github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"],
      ldflags: [`-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${LANGUAGE_HOST_SDK}`],
      note: `language host from sdk/v3 ${LANGUAGE_HOST_SDK}: the proxy refuses its own module at v${cli}'s commit`,
    },
    {
      id: "docker-build",
      version: dockerBuild,
      require: { "github.com/pulumi/pulumi-docker-build": `v${dockerBuild}` },
      // The provider imports the C# and Java code generators only for two struct types that describe its SDKs
      // in its schema; the proxy refuses both modules. The shims declare those types with the same JSON fields.
      shims: [
        {
          module: "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3",
          dir: "shim/dotnet",
          files: {
            "codegen/codegen.go": [
              "package codegen",
              "",
              "type CSharpPackageInfo struct {",
              '\tRespectSchemaVersion bool              `json:"respectSchemaVersion,omitempty"`',
              '\tPackageReferences    map[string]string `json:"packageReferences,omitempty"`',
              "}",
              "",
            ].join("\n"),
          },
        },
        {
          module: "github.com/pulumi/pulumi-java",
          dir: "shim/java",
          files: {
            "pkg/codegen/java/java.go": [
              "package java",
              "",
              "type PackageInfo struct {",
              '\tBuildFiles                      string            `json:"buildFiles,omitempty"`',
              '\tGradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion,omitempty"`',
              '\tDependencies                    map[string]string `json:"dependencies,omitempty"`',
              "}",
              "",
            ].join("\n"),
          },
        },
      ],
      mains: ["github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build"],
      ldflags: [`-X github.com/pulumi/pulumi-docker-build/provider.Version=${dockerBuild}`],
      note: "docker-build: the C# and Java SDK metadata types come from local shims (the proxy refuses both modules)",
    },
    {
      id: "buildkit",
      version: BUILDKIT_VERSION,
      require: { "github.com/moby/buildkit": BUILDKIT_VERSION },
      // buildkit's own exclude block (two untagged versions pulled in by its dependencies), repeated because
      // only the main module's excludes apply.
      exclude: [
        "github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc",
        "github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2",
      ],
      mains: ["github.com/moby/buildkit/cmd/buildkitd", "github.com/moby/buildkit/cmd/buildctl"],
      ldflags: [`-X github.com/moby/buildkit/version.Version=${BUILDKIT_VERSION}`],
    },
  ];
}

export const binaryName = (main: string): string => main.slice(main.lastIndexOf("/") + 1);

export function recipeOf(id: string): Recipe {
  const recipe = recipes().find((r) => r.id === id);
  if (!recipe) throw new Error(`no engine recipe ${id}`);
  return recipe;
}
