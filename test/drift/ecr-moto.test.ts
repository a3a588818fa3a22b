// The ECR drift backend over HTTP: the real AWS SDK v3 client against moto's ECR server on 127.0.0.1, seeded
// through the same SDK (CreateRepository, PutImage with image manifests). This is what the mock tests
// (drift-ecr.test.ts) cannot show: that the requests serialise, the answers and ECR's errors parse, and the
// drift check reports the right status from them. Skipped on a machine without moto, saying why; in CI it
// never skips.
//
// What moto 5.2.5 does not do, and so stays in the mock tests only:
// - paging: DescribeImages and DescribeRepositories ignore maxResults and nextToken and answer in one page, so
//   walking pages (and refusing a repeated nextToken) is tested on the mock; here the count over more images
//   than one page holds is checked, and the one-page answer is asserted so an upgrade that pages shows up;
// - the imageStatus filter and archived images: moto has no archive;
// - push times: moto stamps imagePushedAt with the time of the PutImage, so old images cannot be seeded; the
//   stale case moves the check's clock forward instead;
// - auth, throttling and a page failing half-way: moto accepts any credentials.
import { CreateRepositoryCommand, type ECRClient, PutImageCommand } from "@aws-sdk/client-ecr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDrift } from "../../lib/drift/check";
import { exitCode } from "../../lib/drift/classify";
import { EcrBackend, parseEcrHost } from "../../lib/drift/ecr";
import { CACHE_TAG, type DriftResult, type ExpectedImage } from "../../lib/drift/types";
import {
  MOTO_ACCOUNT,
  type MotoServer,
  motoClient,
  motoUnavailable,
  startMoto,
} from "../support/moto-server";
import { sha256 } from "../support/oci-registry";

const unavailable = motoUnavailable();
if (unavailable && process.env.CI === "true")
  throw new Error(`the ECR moto tier cannot run in CI: ${unavailable}`);
if (unavailable) console.warn(`ECR moto tier skipped (not in CI): ${unavailable}`);

const REGION = "us-east-2";
const HOST = `${MOTO_ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
/** lib/drift/ecr.ts's maxResults for DescribeImages; the requests are checked to carry it. */
const PAGE_SIZE = 1000;
const BIG_COUNT = PAGE_SIZE + 50;

const PLATFORM = "molecule-ai/platform";
const AGENT = "molecule-ai/molecule-platform-agent";
const RUNTIME = "molecule-ai/runtime";
const RETIRED = "molecule-ai/retired"; // never created
const ORPHAN = "molecule-ai/orphan";
const OUTSIDE = "other/tool";

const staging = (i: number) => `staging-${i.toString(16).padStart(7, "0")}`;

/** A distinct OCI image manifest per seed. ECR's digest is the sha256 of the manifest bytes. */
function manifest(seed: string): { body: string; digest: string } {
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha256(`config ${seed}`),
      size: 100,
    },
    layers: [
      {
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: sha256(`layer ${seed}`),
        size: 1000,
      },
    ],
  });
  return { body, digest: sha256(body) };
}

interface Call {
  command: string;
  input: Record<string, unknown>;
  /** The answer's nextToken, to follow the walk. */
  nextToken?: string | undefined;
  /** The error's name, for a call that failed. */
  error?: string;
}

let moto: MotoServer;
let client: ECRClient;
const calls: Call[] = [];
let seededAt: number;
const digests: Record<string, string> = {};

/** PutImage once per tag (ECR takes one tag per call), or once untagged (pushed by digest). */
async function push(repositoryName: string, seed: string, tags: string[]): Promise<string> {
  const { body, digest } = manifest(seed);
  for (const imageTag of tags.length ? tags : [undefined]) {
    const out = await client.send(
      new PutImageCommand({ repositoryName, imageManifest: body, imageTag, imageDigest: digest }),
    );
    // moto derives a digest of its own from the layers when none is given; ECR's is the manifest's sha256.
    expect(out.image?.imageId?.imageDigest).toBe(digest);
  }
  return digest;
}

beforeAll(async () => {
  if (unavailable) return;
  moto = await startMoto(process.env.MOLECULE_MOTO_SERVER as string);
  client = motoClient(moto.url, REGION);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const call: Call = {
        command: context.commandName ?? "?",
        input: args.input as Record<string, unknown>,
      };
      calls.push(call);
      try {
        const out = await next(args);
        call.nextToken = (out.output as { nextToken?: string }).nextToken;
        return out;
      } catch (err) {
        call.error = err instanceof Error ? err.name : String(err);
        throw err;
      }
    },
    { step: "initialize", name: "recordCalls" },
  );

  seededAt = Math.floor(Date.now() / 1000) * 1000; // imagePushedAt has whole seconds
  for (const name of [PLATFORM, AGENT, RUNTIME, ORPHAN, OUTSIDE]) {
    await client.send(new CreateRepositoryCommand({ repositoryName: name }));
  }
  // More images than one DescribeImages page holds: tagged first, every 100th, and last (the current build),
  // the rest untagged, as old builds are once their tag has moved on.
  for (let i = 0; i < BIG_COUNT; i++) {
    const last = i === BIG_COUNT - 1;
    const tags = last ? [staging(i), "staging-latest"] : i % 100 === 0 ? [staging(i)] : [];
    digests[`platform-${i}`] = await push(PLATFORM, `platform-${i}`, tags);
  }
  // staging-latest moved from build 1111111 to 2222222; the stack's outputs still record 1111111.
  digests.runtimeOld = await push(RUNTIME, "runtime-old", ["staging-1111111", "staging-latest"]);
  digests.runtimeNew = await push(RUNTIME, "runtime-new", ["staging-2222222", "staging-latest"]);
  digests.orphanCache = await push(ORPHAN, "orphan-cache", [CACHE_TAG]);
  await push(OUTSIDE, "tool", ["v1"]);
  calls.length = 0;
}, 120_000);

afterAll(async () => {
  await moto?.stop();
});

const backend = () => new EcrBackend({ registryId: MOTO_ACCOUNT, region: REGION, client });
const callsOf = (command: string) => calls.filter((c) => c.command === command);
const LAST = BIG_COUNT - 1;

describe.skipIf(unavailable !== undefined)("EcrBackend against moto's ECR server", () => {
  it("counts every image of a repository holding more than one DescribeImages page, and finds tags pushed first and last", async () => {
    calls.length = 0;
    const facts = await backend().describe(PLATFORM, [
      staging(0),
      staging(LAST),
      "staging-latest",
      staging(1),
    ]);

    expect(facts.exists).toBe(true);
    expect(facts.imageCount).toBe(BIG_COUNT);
    expect(facts.tags).toEqual({
      [staging(0)]: digests["platform-0"],
      [staging(LAST)]: digests[`platform-${LAST}`],
      "staging-latest": digests[`platform-${LAST}`],
    });
    expect(facts.newestPush?.getTime()).toBeGreaterThanOrEqual(seededAt);
    expect(facts.newestPush?.getTime()).toBeLessThanOrEqual(Date.now());

    const pages = callsOf("DescribeImagesCommand");
    expect(pages[0]?.input.nextToken).toBeUndefined();
    pages.forEach((page, i) => {
      expect(page.input).toMatchObject({
        registryId: MOTO_ACCOUNT,
        repositoryName: PLATFORM,
        filter: { tagStatus: "ANY", imageStatus: "ANY" },
        maxResults: PAGE_SIZE,
      });
      if (i > 0) expect(page.input.nextToken).toBe(pages[i - 1]?.nextToken);
    });
    expect(pages.at(-1)?.nextToken).toBeUndefined();
    // moto 5.2.5 answers in one page whatever maxResults says (see the top of this file). If an upgrade
    // makes this fail, moto now pages: delete this line and that note, and the walk above is tested here too.
    expect(pages).toHaveLength(1);
  });

  it("reports an existing repository with no images as empty, with no push date", async () => {
    expect(await backend().describe(AGENT, ["staging-latest"])).toEqual({
      exists: true,
      imageCount: 0,
      newestPush: null,
      tags: {},
    });
  });

  it("reports a missing repository as not existing, from ECR's RepositoryNotFoundException, without listing images", async () => {
    calls.length = 0;
    expect(await backend().describe(RETIRED, ["staging-latest"])).toEqual({
      exists: false,
      imageCount: 0,
      newestPush: null,
      tags: {},
    });
    // The answer was ECR's error for it, parsed from the wire; no DescribeImages followed.
    expect(calls.map((c) => [c.command, c.error])).toEqual([
      ["DescribeRepositoriesCommand", "RepositoryNotFoundException"],
    ]);
  });

  it("shows where a moved tag points now; the old image keeps its commit tag", async () => {
    const facts = await backend().describe(RUNTIME, ["staging-latest", "staging-1111111", "staging-3333333"]);

    expect(facts).toMatchObject({ exists: true, imageCount: 2 });
    expect(facts.tags).toEqual({
      "staging-latest": digests.runtimeNew,
      "staging-1111111": digests.runtimeOld,
    });
  });

  it("has no push date when the build cache image is the only image", async () => {
    expect(await backend().describe(ORPHAN, [])).toEqual({
      exists: true,
      imageCount: 1,
      newestPush: null,
      tags: {},
    });
  });

  it("lists the repositories under a prefix, sorted, and none outside it", async () => {
    calls.length = 0;
    expect(await backend().list("molecule-ai/")).toEqual([AGENT, ORPHAN, PLATFORM, RUNTIME]);
    const pages = callsOf("DescribeRepositoriesCommand");
    expect(pages).not.toHaveLength(0);
    for (const c of pages) {
      expect(c.input).toMatchObject({ registryId: MOTO_ACCOUNT, maxResults: PAGE_SIZE });
      expect(c.input.repositoryNames).toBeUndefined();
    }
  });
});

describe.skipIf(unavailable !== undefined)("checkDrift with the ECR backend on moto", () => {
  const expected = (name: string, repository: string, digest: string, tags: string[]): ExpectedImage => ({
    name,
    repository: `${HOST}/${repository}`,
    digest,
    tags: tags.map((t) => `${HOST}/${repository}:${t}`),
  });
  const images = () => [
    expected("platform", PLATFORM, digests[`platform-${LAST}`] as string, [staging(LAST), "staging-latest"]),
    expected("platform-agent", AGENT, sha256("never built"), ["staging-latest"]),
    expected("runtime", RUNTIME, digests.runtimeOld as string, ["staging-1111111", "staging-latest"]),
    expected("retired", RETIRED, sha256("retired"), ["staging-latest"]),
  ];
  // The host decides the backend, as backendFor does, with the client pointed at moto.
  const backendFor = (host: string) => {
    const ecr = parseEcrHost(host);
    if (!ecr) throw new Error(`not an ECR host: ${host}`);
    return new EcrBackend({ ...ecr, client });
  };
  const byRepository = (results: DriftResult[]) =>
    Object.fromEntries(results.map((r) => [r.repository.slice(HOST.length + 1), r]));

  it("reports ok, empty, digest-drift, missing-repository and the unmanaged repository, each with its detail", async () => {
    const now = new Date();
    const results = await checkDrift(images(), {
      maxAgeDays: 14,
      scanPrefix: "molecule-ai/",
      now,
      backendFor,
    });
    const got = byRepository(results);

    expect(Object.keys(got).sort()).toEqual([AGENT, ORPHAN, PLATFORM, RETIRED, RUNTIME]);
    expect(got[PLATFORM]).toEqual({
      image: "platform",
      repository: `${HOST}/${PLATFORM}`,
      status: "ok",
      detail: `${BIG_COUNT} image(s), newest pushed 0 day(s) ago`,
      newestPush: expect.any(String),
      imageCount: BIG_COUNT,
      expectedDigest: digests[`platform-${LAST}`],
      actualDigest: digests[`platform-${LAST}`],
    });
    expect(Date.parse(got[PLATFORM]?.newestPush as string)).toBeGreaterThanOrEqual(seededAt);
    expect(got[AGENT]).toEqual({
      image: "platform-agent",
      repository: `${HOST}/${AGENT}`,
      status: "empty",
      detail: "the repository exists and holds no images",
      newestPush: null,
      imageCount: 0,
      expectedDigest: sha256("never built"),
      actualDigest: null,
    });
    expect(got[RUNTIME]).toEqual({
      image: "runtime",
      repository: `${HOST}/${RUNTIME}`,
      status: "digest-drift",
      detail: `staging-latest points to ${digests.runtimeNew}, the stack recorded ${digests.runtimeOld}`,
      newestPush: expect.any(String),
      imageCount: 2,
      expectedDigest: digests.runtimeOld,
      actualDigest: digests.runtimeNew,
    });
    expect(got[RETIRED]).toEqual({
      image: "retired",
      repository: `${HOST}/${RETIRED}`,
      status: "missing-repository",
      detail: `repository ${HOST}/${RETIRED} does not exist`,
      newestPush: null,
      imageCount: null,
      expectedDigest: sha256("retired"),
      actualDigest: null,
    });
    expect(got[ORPHAN]).toEqual({
      image: null,
      repository: `${HOST}/${ORPHAN}`,
      status: "unmanaged",
      detail: "not declared by the stack: 1 image(s), no newest push",
      newestPush: null,
      imageCount: 1,
      expectedDigest: null,
      actualDigest: null,
    });
    expect(exitCode(results)).toBe(1);
  });

  it("reports stale once the newest push is older than the limit", async () => {
    // moto stamps pushes with the time of the PutImage: the check's clock moves forward instead.
    const now = new Date(Date.now() + 30 * 86_400_000);
    const [platform] = images();
    const results = await checkDrift([platform as ExpectedImage], { maxAgeDays: 14, now, backendFor });

    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({
      image: "platform",
      status: "stale",
      detail: "newest image pushed 30 days ago (limit 14)",
      imageCount: BIG_COUNT,
      actualDigest: digests[`platform-${LAST}`],
    });
    expect(exitCode(results)).toBe(1);
  });
});
