// The local stack on the real engine with its builder on another host: a network namespace of this test's own,
// reached over a veth on 198.18.X.0/30, running the tier's buildkitd on TCP with mutual TLS, registered as a
// buildx `remote` builder. The registry listens on the host side of the veth, so the engine host and the
// remote builder use one set of image names. One up builds the chain there; then the faults: a client
// certificate from another CA, a host that stops answering, a builder that is down, and no certificate or
// key in state or logs.
// It needs root on Linux and `ip netns`: elsewhere it skips and says why; in CI it never skips.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processState } from "../../lib/os/proc";
import { manifestOf } from "../support/oci-image";
import {
  commitSource,
  localStackConfig,
  type RealStack,
  type RunResult,
  stackOutputs,
  startRealStack,
  tagDigest as tagDigestIn,
  upPastRegistryRace,
  writeStackConfig,
} from "../support/real-stack";
import {
  type BuildRecord,
  buildRecords,
  createRemoteHost,
  makeForeignClient,
  makePki,
  type Pki,
  type RemoteBuildkitd,
  type RemoteHost,
  registerRemoteBuilder,
  remoteTierUnavailable,
  removeLeftoverHosts,
  startRemoteBuildkitd,
} from "../support/remote-builder";

const STACK = "remote";
const SHA = "4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b";
const BASE_REPO = "molecule-ai/platform";
const AGENT_REPO = "molecule-ai/molecule-platform-agent";
const REMOTE_BUILDER = "molecule-remote";
const FOREIGN_BUILDER = "molecule-remote-foreign-cert";
/** A builder that cannot be used must fail the run within this, not hang it. */
const FAULT_BOUND_MS = 90_000;

const unavailable = remoteTierUnavailable();
if (unavailable && process.env.CI === "true")
  throw new Error(`the remote-builder tier cannot run in CI: ${unavailable}`);
if (unavailable) console.warn(`remote-builder e2e tier skipped (not in CI): ${unavailable}`);

type Images = Record<string, { repository: string; ref: string; digest: string; tags: string[] }>;
let host: RemoteHost | undefined;
let pki: Pki | undefined;
let remote: RemoteBuildkitd | undefined;
let world: RealStack;
let config: Record<string, unknown>;
let images: Images;
let localRecordsBefore: BuildRecord[];
/** Every Pulumi run's output, for the check that no certificate or key reached a log. */
const logs: string[] = [];
const stacks = [STACK];

async function pulumi(args: string[], timeoutMs?: number): Promise<RunResult & { ms: number }> {
  const started = Date.now();
  const r = await world.pulumi(args, { timeoutMs });
  logs.push(r.stdout, r.stderr);
  return { ...r, ms: Date.now() - started };
}

// Through pulumi() above, so the leak scan reads these runs' logs too.
const up = (stack = STACK) => upPastRegistryRace(pulumi, stack);
const outputs = (stack = STACK) => stackOutputs(pulumi, stack);

const tagDigest = (repo: string, tag: string) => tagDigestIn(world, repo, tag);

const localBuildctl = (args: string[]) => {
  const r = spawnSync(world.engine.buildctl ?? "buildctl", ["--addr", world.builder.endpoint, ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
};

/** The record of the build that pushed `repo:tag`, if this daemon holds one. */
const builtHere = (records: BuildRecord[], repo: string, tag: string) =>
  records.find((r) =>
    r.exporters.some((e) =>
      (e.attrs.name ?? "").split(",").includes(`${world.registry.host}/${repo}:${tag}`),
    ),
  );

/** What a failed run says of the failure: docker-build's resource lines and the diagnostics, once each. */
const errorLines = (log: string) =>
  [
    ...new Set(
      log
        .split("\n")
        .filter((l) => /docker-build:index:Image .*(error|ERROR|failed)|^\s+error: /.test(l))
        .map((l) => l.trim()),
    ),
  ].join("\n");

/**
 * A fresh stack (no state: both images must be built) of another commit, with `builder`; the preview and the
 * up must both fail within the bound, naming the builder and its endpoint on one line, and push nothing.
 * docker-build alone does not: with buildOnPreview false its preview never dials the builder, and its up
 * says only "context deadline exceeded". The builder preflight (lib/stack/builder-preflight.ts) is what
 * these assertions wait for.
 */
async function expectBuilderFault(
  stack: string,
  builder: string,
  endpoint: string,
  label: string,
  /** What that line must also say, where the cause is the user's to fix (a certificate). */
  reason?: RegExp,
): Promise<string[]> {
  const sha = { "remote-foreign": "6", "remote-silent": "5" }[stack]?.repeat(40) ?? "3".repeat(40);
  const init = await pulumi(["stack", "init", stack]);
  expect(init.code, init.stderr).toBe(0);
  stacks.push(stack);
  writeStackConfig(world, stack, { ...config, builder, gitSha: sha });
  const failures: string[] = [];
  const seen: string[] = [];
  for (const command of [
    ["preview", "--stack", stack],
    ["up", "--stack", stack, "--yes", "--skip-preview"],
  ]) {
    // Killed well past the bound, so a hang shows as a measured failure, not a test timeout.
    const r = await pulumi(command, FAULT_BOUND_MS + 60_000);
    const log = r.stdout + r.stderr;
    const what = `${label}: pulumi ${command[0]} exited ${r.code} after ${(r.ms / 1000).toFixed(1)} s`;
    // What docker-build and the builder check print, kept so a failure shows what the engine saw.
    const said = r.code === 0 ? /Resources:\s+(.*)/.exec(log)?.[1] : errorLines(log);
    console.info(`e2e-remote: ${what}:\n${said || log.slice(-2000)}`);
    seen.push(what);
    if (r.code === 0) failures.push(`${what}: it succeeded`);
    if (r.ms >= FAULT_BOUND_MS) failures.push(`${what}: not within ${FAULT_BOUND_MS / 1000} s`);
    // One line names both, as "builder <name> (<endpoint>): ..." does: buildx's own progress line
    // ("building with "<name>" instance using remote driver") names the builder, never where it is.
    const named = log.split("\n").find((l) => l.includes(builder) && l.includes(endpoint));
    if (!named) failures.push(`${what}: no line names both builder ${builder} and endpoint ${endpoint}`);
    else if (reason && !reason.test(named))
      failures.push(`${what}: "${named.trim()}" does not match ${reason}`);
  }
  for (const repo of [BASE_REPO, AGENT_REPO])
    expect(await tagDigest(repo, `local-${sha.slice(0, 7)}`), `${label}: ${repo} pushed`).toBeUndefined();
  // Every problem at once: which command, and which of failing, the bound and the naming did not hold.
  expect(failures, seen.join("\n")).toEqual([]);
  return seen;
}

describe.skipIf(unavailable !== undefined)("the local stack with a remote builder on another host", () => {
  beforeAll(async () => {
    const leftovers = removeLeftoverHosts();
    if (leftovers.length > 0) console.warn(`e2e-remote: removed a dead run's ${leftovers.join(", ")}`);
    host = createRemoteHost();
    world = await startRealStack(STACK, { registryBind: host.hostAddress });
    pki = makePki(host.remoteAddress);
    remote = await startRemoteBuildkitd({
      host,
      buildkitd: world.engine.buildkitd ?? "buildkitd",
      buildctl: world.engine.buildctl ?? "buildctl",
      pki,
      plainHttpRegistries: [world.registry.host],
    });
    // Beside the local builder startRealStack registers (molecule-local): only `builder` picks this one.
    registerRemoteBuilder(world.builder.buildxConfig, REMOTE_BUILDER, remote.endpoint, pki.client);
    // The local buildkitd built the root image; nothing of the stack may be added to its records.
    localRecordsBefore = buildRecords(localBuildctl);

    config = localStackConfig(world, SHA, { builder: REMOTE_BUILDER });
    writeStackConfig(world, STACK, config);
    const first = await up();
    expect(first.code, first.stdout + first.stderr).toBe(0);
    images = (await outputs()).images as Images;
  }, 900_000);

  afterAll(async () => {
    // buildkitd first: a namespace with a live process in it would outlive its deletion, veth and all.
    await remote?.stop();
    await world?.stop();
    host?.remove();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it("builds both images on the remote host's buildkitd, and none on the local one", () => {
    if (!remote) throw new Error("no remote buildkitd");
    const remoteRecords = buildRecords(
      (args) => remote?.buildctl(args) ?? { status: 1, stdout: "", stderr: "" },
    );
    for (const [name, repo] of [
      ["platform", BASE_REPO],
      ["platform-agent", AGENT_REPO],
    ] as const) {
      const record = builtHere(remoteRecords, repo, `local-${SHA.slice(0, 7)}`);
      expect(record, `${name}: no build record on ${remote.endpoint}`).toBeDefined();
      // The manifest the remote build produced is the one pushed and exported.
      expect(record?.results).toEqual([images[name]?.digest]);
      expect(record?.exporters[0]?.attrs.push).toBe("true");
      if (name === "platform-agent")
        expect(record?.frontendAttrs["build-arg:BASE_IMAGE"]).toBe(
          `${world.registry.host}/${BASE_REPO}@${images.platform?.digest}`,
        );
      expect(builtHere(buildRecords(localBuildctl), repo, `local-${SHA.slice(0, 7)}`)).toBeUndefined();
    }
    expect(buildRecords(localBuildctl).map((r) => r.ref)).toEqual(localRecordsBefore.map((r) => r.ref));
  });

  it("pushes both images under local-<sha7> and local-latest with the exported digests", async () => {
    for (const [name, repo] of [
      ["platform", BASE_REPO],
      ["platform-agent", AGENT_REPO],
    ] as const) {
      const exported = images[name];
      expect(exported?.tags).toEqual([
        `${world.registry.host}/${repo}:local-${SHA.slice(0, 7)}`,
        `${world.registry.host}/${repo}:local-latest`,
      ]);
      expect(await tagDigest(repo, `local-${SHA.slice(0, 7)}`)).toBe(exported?.digest);
      expect(await tagDigest(repo, "local-latest")).toBe(exported?.digest);
    }
  });

  it("builds the agent on the base's pushed digest, with the base's layers underneath", async () => {
    const base = images.platform;
    const agent = images["platform-agent"];
    const r = await pulumi(["stack", "export", "--stack", STACK]);
    const resources = JSON.parse(r.stdout).deployment.resources as Array<{
      urn: string;
      inputs: Record<string, unknown>;
    }>;
    const declared = resources.find((res) =>
      res.urn.endsWith("docker-build:index:Image::platform-agent-image"),
    );
    expect((declared?.inputs.buildArgs as Record<string, string> | undefined)?.BASE_IMAGE).toBe(
      `${world.registry.host}/${BASE_REPO}@${base?.digest}`,
    );
    const baseLayers = (await manifestOf(`${base?.repository}@${base?.digest}`)).layers.map((l) => l.digest);
    const agentLayers = (await manifestOf(`${agent?.repository}@${agent?.digest}`)).layers.map(
      (l) => l.digest,
    );
    expect(agentLayers.slice(0, baseLayers.length)).toEqual(baseLayers);
    expect(agentLayers.length).toBeGreaterThan(baseLayers.length);
  });

  it("the same commit on the local and the remote builder, each with an empty cache, gives identical digests", async () => {
    if (!remote) throw new Error("no remote buildkitd");
    // A real commit, so the stack has its time: SOURCE_DATE_EPOCH and rewrite-timestamp.
    const { sha } = commitSource(world);
    const built: Images[] = [];
    for (const [stack, builder, prune] of [
      ["repro-remote", REMOTE_BUILDER, (args: string[]) => remote?.buildctl(args)],
      ["repro-local", world.builder.name, localBuildctl],
    ] as const) {
      prune(["prune", "--all"]);
      expect((await pulumi(["stack", "init", stack])).code).toBe(0);
      stacks.push(stack);
      // No registry cache either way: each builder builds every step itself.
      writeStackConfig(world, stack, {
        ...config,
        builder,
        gitSha: sha,
        tagPrefix: stack.replace("-", ""),
        cache: "false",
      });
      const r = await up(stack);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      built.push((await outputs(stack)).images as Images);
    }
    const [onRemote, onLocal] = built;
    expect(onLocal?.platform?.digest).toBe(onRemote?.platform?.digest);
    expect(onLocal?.["platform-agent"]?.digest).toBe(onRemote?.["platform-agent"]?.digest);
  }, 600_000);

  it("a client certificate another CA signed fails the preview and the up, naming the builder and its endpoint", async () => {
    if (!pki || !remote) throw new Error("no remote builder");
    const foreign = makeForeignClient(pki);
    registerRemoteBuilder(world.builder.buildxConfig, FOREIGN_BUILDER, remote.endpoint, foreign);
    // The daemon answers the right certificate and refuses this one: the fault is the certificate alone.
    // (What buildctl sees of the refusal varies: TLS 1.3 reports the server's alert only on a later read,
    // so it may be "tls: unknown certificate authority" or a broken pipe.)
    expect(remote.buildctl(["--timeout", "5", "debug", "workers"]).status).toBe(0);
    const refused = remote.buildctl(["--timeout", "5", "debug", "workers"], foreign);
    expect(refused.status).not.toBe(0);
    console.info(`e2e-remote: buildctl with the foreign client certificate: ${refused.stderr.trim()}`);
    await expectBuilderFault(
      "remote-foreign",
      FOREIGN_BUILDER,
      remote.endpoint,
      "foreign client certificate",
      /certificate|unknown ca|tls/i,
    );
  }, 600_000);

  it("a remote host that does not answer at all fails the preview and the up within 90 s, naming the builder and its endpoint", async () => {
    if (!host || !remote) throw new Error("no remote host");
    // buildkitd still runs: only the network is gone, as when the host is powered off.
    host.silence(true);
    try {
      await expectBuilderFault("remote-silent", REMOTE_BUILDER, remote.endpoint, "host not answering");
    } finally {
      host.silence(false);
    }
  }, 600_000);

  it("a remote builder that is down fails the preview and the up within 90 s, naming the builder and its endpoint", async () => {
    if (!remote) throw new Error("no remote buildkitd");
    await remote.stop();
    expect(remote.running()).toBe(false);
    await expectBuilderFault("remote-down", REMOTE_BUILDER, remote.endpoint, "builder down");
  }, 600_000);

  it("no certificate or key reaches Pulumi state or a run's log: the state names the builder only", async () => {
    if (!pki) throw new Error("no certificates");
    // What would give a certificate or key away: its PEM text whole, each base64 line of it, its DER as one
    // base64 run (no line breaks), and a stretch of its DER in hex.
    const leaks: Array<[string, string]> = [["PEM armour", "-----BEGIN"]];
    /** Each file in every encoding looked for: the scan must find every needle here, or it proves nothing. */
    let canary = "";
    for (const file of pki.files) {
      const text = readFileSync(file, "utf8");
      const body = text.split("\n").filter((l) => l && !l.startsWith("-----"));
      const der = Buffer.from(body.join(""), "base64");
      const name = path.relative(pki.dir, file);
      const mid = Math.floor(der.length / 2);
      const hex = der.subarray(mid - 16, mid + 16).toString("hex");
      leaks.push([`${name} whole`, text.trim()], [`${name} as one base64 run`, body.join("")]);
      for (const line of body) if (line.length >= 16) leaks.push([`${name} base64 line`, line]);
      leaks.push([`${name} DER hex`, hex]);
      canary += `${text}\n${body.join("")}\n${der.toString("hex")}\n`;
    }
    const found = (where: string, text: string) =>
      leaks.filter(([, needle]) => text.includes(needle)).map(([what]) => `${where}: ${what}`);

    const problems: string[] = [];
    for (const stack of stacks) {
      for (const secrets of [[], ["--show-secrets"]]) {
        const exported = await pulumi(["stack", "export", "--stack", stack, ...secrets]);
        expect(exported.code, exported.stderr).toBe(0);
        problems.push(...found(`stack export ${stack} ${secrets.join(" ")}`, exported.stdout));
        // What state does hold of the builder: its name, nothing of how to reach it.
        const resources = JSON.parse(exported.stdout).deployment.resources as Array<{
          type: string;
          inputs?: Record<string, unknown>;
        }>;
        for (const image of resources.filter((r) => r.type === "docker-build:index:Image"))
          expect(image.inputs?.builder).toEqual({
            name:
              stack === "remote-foreign"
                ? FOREIGN_BUILDER
                : stack === "repro-local"
                  ? world.builder.name
                  : REMOTE_BUILDER,
          });
      }
    }
    problems.push(...found("the runs' output", logs.join("\n")));
    expect(problems).toEqual([]);
    expect(found("canary", canary).length).toBe(leaks.length);
  });
});

describe.skipIf(unavailable !== undefined)("what a crashed run of this file leaves behind", () => {
  it("a dead pid's namespace (with a process still in it) and stray veth are removed; a live one's are kept", async () => {
    // A pid that was ours and is gone: a finished child's.
    const dead = spawnSync("true").pid;
    expect(processState(dead)).toBe("gone");
    const ns = `molecule-rb-${dead}`;
    const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });
    ip("netns", "add", ns);
    ip("link", "add", `mrb${dead}h`, "type", "veth", "peer", "name", `mrb${dead}n`);
    ip("link", "set", `mrb${dead}n`, "netns", ns);
    // A crash between making a pair and moving its peer leaves both ends on the host.
    const strayPid = spawnSync("true").pid;
    ip("link", "add", `mrb${strayPid}h`, "type", "veth", "peer", "name", `mrb${strayPid}n`);
    // What a killed run leaves running there: its buildkitd would keep the namespace (and veth) alive.
    const inside = spawn("nsenter", [`--net=/run/netns/${ns}`, "sleep", "600"], { stdio: "ignore" });
    const gone = new Promise((resolve) => inside.once("exit", resolve));
    try {
      for (let i = 0; i < 50 && !ip("netns", "pids", ns).trim(); i++) await sleep(20);
      const removed = removeLeftoverHosts();
      expect(removed).toEqual([`netns ${ns} (killed ${inside.pid})`, `link mrb${strayPid}h`]);
      await gone;
      expect(ip("netns", "list")).not.toContain(ns);
      expect(ip("-o", "link", "show")).not.toMatch(new RegExp(`mrb(${dead}|${strayPid})[hn]`));
      // This run's own (a live pid) is no leftover.
      expect(removeLeftoverHosts()).toEqual([]);
    } finally {
      inside.kill("SIGKILL");
      spawnSync("ip", ["netns", "delete", ns]);
      spawnSync("ip", ["link", "delete", `mrb${strayPid}h`]);
    }
  });
});
