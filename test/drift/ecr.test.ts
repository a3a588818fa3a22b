// The ECR backend against a mocked ECRClient. The fakes answer the way ECR does where it matters (pages
// by nextToken, ACTIVE-only unless imageStatus says otherwise, RepositoryNotFoundException for a missing
// name), so a backend that skips a page, forgets the archive or swallows an error fails here.
import {
  DescribeImagesCommand,
  type DescribeImagesCommandInput,
  type DescribeImagesCommandOutput,
  DescribeRepositoriesCommand,
  type DescribeRepositoriesCommandInput,
  type DescribeRepositoriesCommandOutput,
  ECRClient,
  type ImageDetail,
  RepositoryNotFoundException,
} from "@aws-sdk/client-ecr";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ECR_DESCRIBES_AT_ONCE, EcrBackend, parseEcrHost } from "../../lib/drift/ecr";
import { CACHE_TAG, CheckError } from "../../lib/drift/types";

const REGISTRY_ID = "153263036946";
const REGION = "us-east-2";
const BASE = "molecule-ai/platform";
const AGENT = "molecule-ai/molecule-platform-agent";

const ecr = mockClient(ECRClient);

const backend = () =>
  new EcrBackend({
    registryId: REGISTRY_ID,
    region: REGION,
    client: new ECRClient({ region: REGION, credentials: { accessKeyId: "x", secretAccessKey: "y" } }),
  });

const NOW = Date.parse("2025-06-01T00:00:00Z");
const daysAgo = (d: number) => new Date(NOW - d * 86_400_000);
const digest = (c: string) => `sha256:${c.repeat(64)}`;

const image = (
  d: string,
  tags: string[],
  pushed: Date,
  status: "ACTIVE" | "ARCHIVED" = "ACTIVE",
): ImageDetail => ({
  registryId: REGISTRY_ID,
  repositoryName: BASE,
  imageDigest: digest(d),
  imageTags: tags.length ? tags : undefined,
  imagePushedAt: pushed,
  imageStatus: status,
});

/** DescribeRepositories for one name: found if listed in `existing`, else ECR's RepositoryNotFoundException. */
function repositoriesExist(...existing: string[]) {
  ecr.on(DescribeRepositoriesCommand).callsFake((input: DescribeRepositoriesCommandInput) => {
    const name = input.repositoryNames?.[0] ?? "";
    if (!existing.includes(name)) {
      throw new RepositoryNotFoundException({
        message: `The repository with name '${name}' does not exist in the registry with id '${REGISTRY_ID}'`,
        $metadata: { httpStatusCode: 400 },
      });
    }
    return { repositories: [{ registryId: REGISTRY_ID, repositoryName: name }] };
  });
}

/**
 * DescribeImages served as pages chained by nextToken ("p1", "p2", ...), applying the image status filter
 * the way ECR does: absent means ACTIVE only.
 */
function imagePages(...pages: ImageDetail[][]) {
  ecr
    .on(DescribeImagesCommand)
    .callsFake((input: DescribeImagesCommandInput): DescribeImagesCommandOutput => {
      const index = input.nextToken === undefined ? 0 : Number(input.nextToken.slice(1));
      const page = pages[index];
      if (!page) throw new Error(`unexpected nextToken ${input.nextToken}`);
      const wanted = input.filter?.imageStatus ?? "ACTIVE";
      return {
        imageDetails: page.filter((i) => wanted === "ANY" || i.imageStatus === wanted),
        nextToken: index + 1 < pages.length ? `p${index + 1}` : undefined,
        $metadata: {},
      };
    });
}

const imageCalls = () => ecr.commandCalls(DescribeImagesCommand).map((c) => c.args[0].input);

/** An AWS service error as the SDK surfaces it: an Error whose name is the error code. */
const awsError = (name: string, message: string, httpStatusCode: number) =>
  Object.assign(new Error(message), {
    name,
    $fault: "client",
    $metadata: { httpStatusCode, requestId: "req-1" },
  });

beforeEach(() => {
  ecr.reset();
});

afterAll(() => {
  ecr.restore();
});

describe("parseEcrHost", () => {
  it("reads the account and region from ECR registry hosts", () => {
    expect(parseEcrHost("153263036946.dkr.ecr.us-east-2.amazonaws.com")).toEqual({
      registryId: "153263036946",
      region: "us-east-2",
    });
    expect(parseEcrHost("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")).toEqual({
      registryId: "123456789012",
      region: "cn-north-1",
    });
    expect(parseEcrHost("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com")).toEqual({
      registryId: "123456789012",
      region: "us-gov-west-1",
    });
    expect(parseEcrHost("153263036946.DKR.ECR.US-EAST-2.AMAZONAWS.COM")?.region).toBe("us-east-2");
  });

  it.each([
    "ghcr.io",
    "docker.io",
    "localhost:5000",
    "git.moleculesai.app",
    "15326303694.dkr.ecr.us-east-2.amazonaws.com", // 11 digits
    "1532630369461.dkr.ecr.us-east-2.amazonaws.com", // 13 digits
    "153263036946.dkr.ecr.us-east-2.amazonaws.com:443",
    "153263036946.dkr.ecr.us-east-2.amazonaws.com.evil.example",
    "evil.example/153263036946.dkr.ecr.us-east-2.amazonaws.com",
    "153263036946.dkr.ecr.amazonaws.com",
    "public.ecr.aws",
    "",
  ])("rejects %j", (host) => {
    expect(parseEcrHost(host)).toBeUndefined();
  });
});

describe("EcrBackend.describe", () => {
  it("walks every page of DescribeImages, counting images and finding tags on any page", async () => {
    repositoriesExist(BASE);
    imagePages(
      [image("a", ["staging-aaaaaaa"], daysAgo(9)), image("b", [], daysAgo(8))],
      [image("c", ["staging-ccccccc"], daysAgo(5)), image("d", [CACHE_TAG], daysAgo(0))],
      [image("e", [], daysAgo(3))],
      [image("f", ["staging-fffffff", "staging-latest"], daysAgo(2)), image("g", [], daysAgo(1))],
    );

    const facts = await backend().describe(BASE, ["staging-aaaaaaa", "staging-latest", "staging-ccccccc"]);

    expect(facts).toEqual({
      exists: true,
      imageCount: 7,
      newestPush: daysAgo(1),
      tags: {
        "staging-aaaaaaa": digest("a"),
        "staging-ccccccc": digest("c"),
        "staging-latest": digest("f"),
      },
    });
    const calls = imageCalls();
    expect(calls.map((c) => c.nextToken)).toEqual([undefined, "p1", "p2", "p3"]);
    for (const c of calls) {
      expect(c).toMatchObject({
        registryId: REGISTRY_ID,
        repositoryName: BASE,
        filter: { imageStatus: "ANY" },
      });
    }
    expect(ecr.commandCalls(DescribeRepositoriesCommand)[0]?.args[0].input).toEqual({
      registryId: REGISTRY_ID,
      repositoryNames: [BASE],
    });
  });

  it("counts a repository whose images are all archived (ECR lists only ACTIVE ones by default)", async () => {
    repositoriesExist(BASE);
    imagePages(
      [image("a", ["staging-aaaaaaa"], daysAgo(120), "ARCHIVED")],
      [image("b", [], daysAgo(200), "ARCHIVED")],
    );

    const facts = await backend().describe(BASE, ["staging-aaaaaaa"]);

    expect(facts.exists).toBe(true);
    expect(facts.imageCount).toBe(2);
    expect(facts.newestPush).toEqual(daysAgo(120));
    expect(facts.tags).toEqual({ "staging-aaaaaaa": digest("a") });
    expect(imageCalls().every((c) => c.filter?.imageStatus === "ANY")).toBe(true);
  });

  it("reports an existing repository with no images as empty, with no push date", async () => {
    repositoriesExist(AGENT);
    imagePages([]);

    expect(await backend().describe(AGENT, ["staging-latest"])).toEqual({
      exists: true,
      imageCount: 0,
      newestPush: null,
      tags: {},
    });
  });

  it("reports a missing repository as not existing, without listing images", async () => {
    repositoriesExist(BASE);
    imagePages([]);

    expect(await backend().describe(AGENT, ["staging-latest"])).toEqual({
      exists: false,
      imageCount: 0,
      newestPush: null,
      tags: {},
    });
    expect(imageCalls()).toHaveLength(0);
  });

  it("shows where a moved tag points now, and leaves absent tags out", async () => {
    repositoriesExist(BASE);
    // staging-latest moved from the old build (digest a, now only its commit tag) to the new one.
    imagePages(
      [image("a", ["staging-1111111"], daysAgo(10))],
      [image("b", ["staging-2222222", "staging-latest"], daysAgo(1))],
    );

    const facts = await backend().describe(BASE, ["staging-latest", "staging-1111111", "staging-3333333"]);

    expect(facts.tags).toEqual({ "staging-latest": digest("b"), "staging-1111111": digest("a") });
    expect(facts.tags).not.toHaveProperty("staging-3333333");
  });

  it("takes the newest push as the maximum, whatever order ECR returns images in", async () => {
    repositoriesExist(BASE);
    imagePages(
      [image("a", ["staging-aaaaaaa"], daysAgo(45)), image("b", ["staging-bbbbbbb"], daysAgo(31))],
      [image("c", ["staging-ccccccc"], daysAgo(60))],
    );

    expect((await backend().describe(BASE, [])).newestPush).toEqual(daysAgo(31));
  });

  it("ignores the build cache image, pushed on every build, so a stale image still looks stale", async () => {
    repositoriesExist(BASE);
    imagePages([
      image("c", [CACHE_TAG], new Date(NOW - 3_600_000)),
      image("a", ["staging-aaaaaaa", "staging-latest"], daysAgo(40)),
    ]);

    const facts = await backend().describe(BASE, ["staging-latest", CACHE_TAG]);

    expect(facts.newestPush).toEqual(daysAgo(40));
    // It is still an image in the repository, and its tag still resolves if asked for.
    expect(facts.imageCount).toBe(2);
    expect(facts.tags[CACHE_TAG]).toBe(digest("c"));
  });

  it("has no push date when the cache image is the only image", async () => {
    repositoriesExist(AGENT);
    imagePages([image("c", [CACHE_TAG], daysAgo(0))]);

    const facts = await backend().describe(AGENT, ["staging-latest"]);

    expect(facts).toEqual({ exists: true, imageCount: 1, newestPush: null, tags: {} });
  });

  it("excludes an image that carries the cache tag alongside other tags", async () => {
    repositoriesExist(BASE);
    imagePages([
      image("c", [CACHE_TAG, "staging-ccccccc"], daysAgo(0)),
      image("a", ["staging-aaaaaaa"], daysAgo(40)),
    ]);

    expect((await backend().describe(BASE, [])).newestPush).toEqual(daysAgo(40));
  });

  it.each([
    ["UnrecognizedClientException", "The security token included in the request is invalid.", 400],
    ["AccessDeniedException", "User: arn:aws:iam::153263036946:user/ci is not authorized", 400],
    ["ExpiredTokenException", "The security token included in the request is expired", 400],
  ])(
    "turns %s from DescribeRepositories into a CheckError naming the repository",
    async (name, message, status) => {
      ecr.on(DescribeRepositoriesCommand).rejects(awsError(name, message, status));

      const err = await backend()
        .describe(BASE, ["staging-latest"])
        .catch((e: unknown) => e);

      expect(err).toBeInstanceOf(CheckError);
      const text = (err as CheckError).message;
      expect(text).toContain(BASE);
      expect(text).toContain(name);
      expect(text).toContain(message);
      expect(text).toContain(REGISTRY_ID);
      expect(imageCalls()).toHaveLength(0);
    },
  );

  it("fails with a CheckError, not a partial count, when a later DescribeImages page is denied", async () => {
    repositoriesExist(BASE);
    ecr
      .on(DescribeImagesCommand)
      .resolvesOnce({ imageDetails: [image("a", ["staging-latest"], daysAgo(1))], nextToken: "p1" })
      .rejectsOnce(awsError("AccessDeniedException", "not authorized to perform: ecr:DescribeImages", 400));

    await expect(backend().describe(BASE, ["staging-latest"])).rejects.toThrow(
      new RegExp(`DescribeImages for repository "${BASE}".*AccessDeniedException: not authorized`),
    );
    await expect(backend().describe(BASE, [])).rejects.toBeInstanceOf(CheckError);
  });

  it("turns credential and network errors into CheckError", async () => {
    ecr
      .on(DescribeRepositoriesCommand)
      .rejectsOnce(
        Object.assign(new Error("Could not load credentials from any providers"), {
          name: "CredentialsProviderError",
        }),
      )
      .rejectsOnce(
        Object.assign(new Error("getaddrinfo ENOTFOUND api.ecr.us-east-2.amazonaws.com"), {
          code: "ENOTFOUND",
        }),
      );

    const first = backend().describe(AGENT, []);
    await expect(first).rejects.toBeInstanceOf(CheckError);
    await expect(first).rejects.toThrow(
      /molecule-platform-agent.*CredentialsProviderError: Could not load credentials/,
    );
    await expect(backend().describe(AGENT, [])).rejects.toThrow(/molecule-platform-agent.*ENOTFOUND/);
  });

  it("describes at most ECR_DESCRIBES_AT_ONCE repositories at once, however many it is asked for", async () => {
    let inFlight = 0;
    let peak = 0;
    ecr.on(DescribeRepositoriesCommand).callsFake(async (input: DescribeRepositoriesCommandInput) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return { repositories: [{ repositoryName: input.repositoryNames?.[0] }] };
    });
    imagePages([image("a", ["staging-latest"], daysAgo(1))]);
    const b = backend();
    const names = Array.from({ length: 40 }, (_, i) => `molecule-ai/svc-${i}`);
    const facts = await Promise.all(names.map((n) => b.describe(n, ["staging-latest"])));
    expect(facts.every((f) => f.exists && f.imageCount === 1)).toBe(true);
    expect(peak).toBe(ECR_DESCRIBES_AT_ONCE);
  });

  it("fails rather than walking forever when ECR repeats a nextToken", async () => {
    repositoriesExist(BASE);
    ecr.on(DescribeImagesCommand).resolves({ imageDetails: [image("a", [], daysAgo(1))], nextToken: "same" });

    await expect(backend().describe(BASE, [])).rejects.toThrow(CheckError);
    expect(imageCalls().length).toBeLessThanOrEqual(2);
  });
});

describe("EcrBackend.list", () => {
  it("walks every page of DescribeRepositories and keeps the names under the prefix", async () => {
    const pages: DescribeRepositoriesCommandOutput[] = [
      {
        repositories: [{ repositoryName: "molecule-ai/platform" }, { repositoryName: "other/tool" }],
        nextToken: "r1",
        $metadata: {},
      },
      {
        repositories: [
          { repositoryName: "molecule-ai-legacy/platform" },
          { repositoryName: "molecule-ai/old-thing" },
        ],
        nextToken: "r2",
        $metadata: {},
      },
      {
        repositories: [
          { repositoryName: "molecule-ai/molecule-platform-agent" },
          { repositoryName: "molecule-ai" },
        ],
        $metadata: {},
      },
    ];
    ecr.on(DescribeRepositoriesCommand).callsFake((input: DescribeRepositoriesCommandInput) => {
      const page = pages[input.nextToken === undefined ? 0 : Number(input.nextToken.slice(1))];
      if (!page) throw new Error(`unexpected nextToken ${input.nextToken}`);
      return page;
    });

    const names = await backend().list("molecule-ai/");

    expect(names).toEqual([
      "molecule-ai/molecule-platform-agent",
      "molecule-ai/old-thing",
      "molecule-ai/platform",
    ]);
    const calls = ecr.commandCalls(DescribeRepositoriesCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.nextToken)).toEqual([undefined, "r1", "r2"]);
    for (const c of calls) {
      expect(c.registryId).toBe(REGISTRY_ID);
      expect(c.repositoryNames).toBeUndefined();
    }
  });

  it("turns an error on any page into a CheckError naming the prefix", async () => {
    ecr
      .on(DescribeRepositoriesCommand)
      .resolvesOnce({ repositories: [{ repositoryName: "molecule-ai/platform" }], nextToken: "r1" })
      .rejectsOnce(awsError("ThrottlingException", "Rate exceeded", 400));

    const err = await backend()
      .list("molecule-ai/")
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(CheckError);
    expect((err as CheckError).message).toMatch(/"molecule-ai\/".*ThrottlingException: Rate exceeded/);
  });
});

describe("EcrBackend default client", () => {
  it("uses the given region and five attempts", async () => {
    const b = new EcrBackend({ registryId: REGISTRY_ID, region: REGION });
    const client = (b as unknown as { client: ECRClient }).client;

    expect(await client.config.region()).toBe(REGION);
    expect(await client.config.maxAttempts()).toBe(5);
  });
});
