/**
 * A remote builder on a second host, made on this machine: a network namespace joined to the host by a veth
 * pair on a /30 of 198.18.0.0/15 (the benchmarking range, never a private one), a CA with a server and a
 * client certificate from openssl, and the real-engine tier's buildkitd running inside the namespace on TCP
 * with mutual TLS. The engine host reaches it only over the veth, as it would reach a builder elsewhere.
 *
 * Everything is named after the test process's pid, so a run that crashed leaves names the next run can tell
 * apart, and removes: a leftover namespace or veth whose pid is dead is deleted (with what still runs in it)
 * before a new one is made.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { buildkitdToml, registerBuilder } from "../../lib/local/buildkit";
import { processState } from "../../lib/os/proc";
import { killOnExit } from "./kill-on-exit";
import { realTierUnavailable } from "./real-stack";

const NS_PREFIX = "molecule-rb-";
/** Interface names may have 15 characters: "mrb" + a pid (at most 7 digits) + "h" or "n" fits. */
const VETH = /^mrb(\d+)h$/;
export const REMOTE_PORT = 1234;

function ip(args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${(r.stderr || r.error?.message || "").trim()}`);
  return r.stdout;
}

const alive = (pid: number): boolean => processState(pid) === "running";

/** Why this tier cannot run here, or undefined: the real tier's needs, plus `ip netns` and openssl. */
export function remoteTierUnavailable(): string | undefined {
  const real = realTierUnavailable();
  if (real) return real;
  const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  if (netns.status !== 0)
    return `no \`ip netns\` here: ${(netns.stderr || netns.error?.message || "").trim()}`;
  if (spawnSync("openssl", ["version"]).status !== 0) return "no openssl here";
  if (spawnSync("nsenter", ["--version"]).status !== 0) return "no nsenter (util-linux) here";
  return undefined;
}

/**
 * Deletes what a dead test run left: its namespace (after killing, by pid, the processes still in it, which
 * only such a run started there; a namespace with a live process would outlive its name and keep its veth)
 * and a host-side veth a run crashed before moving. Returns what it removed.
 */
export function removeLeftoverHosts(): string[] {
  const removed: string[] = [];
  /** Owners whose namespace was deleted here: their host-side veth goes with it, once the kernel gets to it. */
  const deletedOwners = new Set<number>();
  for (const line of ip(["netns", "list"]).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (!name.startsWith(NS_PREFIX)) continue;
    const owner = Number(name.slice(NS_PREFIX.length));
    if (!Number.isInteger(owner) || alive(owner)) continue;
    const pids = ip(["netns", "pids", name]).split("\n").filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    ip(["netns", "delete", name]);
    deletedOwners.add(owner);
    removed.push(`netns ${name}${pids.length > 0 ? ` (killed ${pids.join(", ")})` : ""}`);
  }
  for (const line of ip(["-o", "link", "show"]).split("\n")) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    const owner = name ? VETH.exec(name)?.[1] : undefined;
    if (!name || !owner || alive(Number(owner))) continue;
    // The kernel tears a deleted namespace down in the background (after its last process exits), and
    // the veth whose peer was in it with it: listed a moment ago, it is not a leftover of its own.
    if (deletedOwners.has(Number(owner)) && vanishes(name, 5_000)) continue;
    if (!deleteLink(name)) continue;
    removed.push(`link ${name}`);
  }
  return removed;
}

/** Whether link `name` is gone within `ms` (polled; this runs where nothing else is asynchronous). */
function vanishes(name: string, ms: number): boolean {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const end = Date.now() + ms; Date.now() < end; Atomics.wait(pause, 0, 0, 50)) {
    if (spawnSync("ip", ["link", "show", "dev", name], { stdio: "ignore" }).status !== 0) return true;
  }
  return false;
}

/** Deletes link `name`; false if it was already gone (its namespace's teardown took it first). */
function deleteLink(name: string): boolean {
  const r = spawnSync("ip", ["link", "delete", name], { encoding: "utf8", timeout: 30_000 });
  if (r.status === 0) return true;
  if (/Cannot find device/.test(r.stderr ?? "")) return false;
  throw new Error(`ip link delete ${name}: ${(r.stderr || r.error?.message || "").trim()}`);
}

export interface RemoteHost {
  ns: string;
  /** 198.18.X.1: the engine host's side of the veth (the registry binds here). */
  hostAddress: string;
  /** 198.18.X.2: the remote host's address (buildkitd binds here). */
  remoteAddress: string;
  /**
   * The remote host stops answering, as a powered-off host does: nothing comes back to the engine host, not
   * even a reset (a blackhole route for the host's address inside the namespace drops every reply, SYN-ACKs
   * included). `false` answers again.
   */
  silence(on: boolean): void;
  /** Deletes the namespace, and with it both ends of the veth. Idempotent. */
  remove(): void;
}

/** A /30 whose third octet no address of this host already uses (another run's, or a leftover's). */
function freeSubnet(): number {
  const used = ip(["-o", "-4", "addr", "show"]);
  for (let attempt = 0; attempt < 64; attempt++) {
    const octet = randomInt(0, 256);
    if (!used.includes(` 198.18.${octet}.`)) return octet;
  }
  throw new Error("no free 198.18.X.0/30 on this host");
}

export function createRemoteHost(): RemoteHost {
  const ns = `${NS_PREFIX}${process.pid}`;
  const hostVeth = `mrb${process.pid}h`;
  const nsVeth = `mrb${process.pid}n`;
  const octet = freeSubnet();
  const hostAddress = `198.18.${octet}.1`;
  const remoteAddress = `198.18.${octet}.2`;
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    spawnSync("ip", ["netns", "delete", ns]);
    // Only there if setup failed before the move into the namespace.
    spawnSync("ip", ["link", "delete", hostVeth], { stdio: "ignore" });
  };
  try {
    ip(["netns", "add", ns]);
    ip(["link", "add", hostVeth, "type", "veth", "peer", "name", nsVeth]);
    ip(["link", "set", nsVeth, "netns", ns]);
    ip(["addr", "add", `${hostAddress}/30`, "dev", hostVeth]);
    ip(["link", "set", hostVeth, "up"]);
    ip(["-n", ns, "addr", "add", `${remoteAddress}/30`, "dev", nsVeth]);
    ip(["-n", ns, "link", "set", nsVeth, "up"]);
    ip(["-n", ns, "link", "set", "lo", "up"]);
  } catch (err) {
    remove();
    throw err;
  }
  const silence = (on: boolean) =>
    void ip(["-n", ns, "route", on ? "add" : "delete", "blackhole", `${hostAddress}/32`]);
  return { ns, hostAddress, remoteAddress, silence, remove };
}

// ---------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------

export interface ClientTls {
  /** The CA the client trusts for the server. */
  ca: string;
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  client: ClientTls;
  /** Every file holding a certificate or a key: what must never reach Pulumi state or a log. */
  files: string[];
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

const P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** A self-signed CA: `<name>.pem`, `<name>-key.pem`. P-256 keys: RSA generation would cost seconds. */
function makeCa(dir: string, name: string, subject: string): { cert: string; key: string } {
  openssl(
    [
      "req",
      "-x509",
      ...P256,
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      subject,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
}

function makeLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extensions: string,
): { cert: string; key: string } {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(
    ["req", "-new", ...P256, "-keyout", `${name}-key.pem`, "-out", `${name}.csr`, "-subj", `/CN=${name}`],
    dir,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-set_serial",
      `0x${randomInt(1, 2 ** 47).toString(16)}`,
      "-days",
      "2",
      "-out",
      `${name}.pem`,
      "-extfile",
      ext,
    ],
    dir,
  );
  rmSync(ext);
  rmSync(join(dir, `${name}.csr`));
  return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) };
}

function lockDown(files: string[]): void {
  for (const f of files) chmodSync(f, 0o600);
}

/**
 * A CA, a server certificate for `serverAddress` (an IP SAN: buildx checks the endpoint's host against it)
 * and a client certificate, in a new 0700 directory with 0600 keys.
 */
export function makePki(serverAddress: string): Pki {
  const dir = mkdtempSync(join(tmpdir(), "molecule-rb-pki-"));
  chmodSync(dir, 0o700);
  const ca = makeCa(dir, "ca", "/CN=molecule-images test CA");
  const server = makeLeaf(
    dir,
    "server",
    ca,
    `subjectAltName=IP:${serverAddress}\nextendedKeyUsage=serverAuth\n`,
  );
  const client = makeLeaf(dir, "client", ca, "extendedKeyUsage=clientAuth\n");
  const files = [ca.cert, ca.key, server.cert, server.key, client.cert, client.key];
  lockDown(files);
  return {
    dir,
    ca: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    client: { ca: ca.cert, cert: client.cert, key: client.key },
    files,
  };
}

/**
 * A client certificate signed by a CA of its own (in `pki`'s directory): the server's CA never signed it, so
 * buildkitd must refuse it. It still trusts the right CA for the server, so only the client side is wrong.
 */
export function makeForeignClient(pki: Pki): ClientTls {
  const dir = join(pki.dir, "foreign");
  mkdirSync(dir, { mode: 0o700 });
  const ca = makeCa(dir, "other-ca", "/CN=not the builder's CA");
  const client = makeLeaf(dir, "client", ca, "extendedKeyUsage=clientAuth\n");
  lockDown([ca.cert, ca.key, client.cert, client.key]);
  pki.files.push(ca.cert, ca.key, client.cert, client.key);
  return { ca: pki.ca, cert: client.cert, key: client.key };
}

/** A buildx `remote` builder at `endpoint` with the client's TLS files (buildx's remote driver opts). */
export function registerRemoteBuilder(
  buildxConfig: string,
  name: string,
  endpoint: string,
  tls: ClientTls,
  serverName?: string,
): void {
  registerBuilder(buildxConfig, name, endpoint, "remote", {
    cacert: tls.ca,
    cert: tls.cert,
    key: tls.key,
    ...(serverName ? { servername: serverName } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// buildkitd on the remote host
// ---------------------------------------------------------------------------------------------

export interface RemoteBuildkitd {
  endpoint: string;
  pid: number;
  logFile: string;
  log(): string;
  running(): boolean;
  /** buildctl against this daemon, with the client certificate. */
  buildctl(args: string[], tls?: ClientTls): { status: number | null; stdout: string; stderr: string };
  /** SIGTERM (SIGKILL after 10 s) to this daemon's pid only, waits for it, removes its root. Idempotent. */
  stop(): Promise<void>;
}

export async function startRemoteBuildkitd(opts: {
  host: RemoteHost;
  buildkitd: string;
  buildctl: string;
  pki: Pki;
  /** Registries it pushes to without TLS (host:port). */
  plainHttpRegistries: string[];
}): Promise<RemoteBuildkitd> {
  const dir = mkdtempSync(join(tmpdir(), "molecule-rb-buildkitd-"));
  mkdirSync(join(dir, "root"));
  const config = join(dir, "buildkitd.toml");
  writeFileSync(config, buildkitdToml(opts.plainHttpRegistries));
  const endpoint = `tcp://${opts.host.remoteAddress}:${REMOTE_PORT}`;
  const logFile = join(dir, "buildkitd.log");
  const log = openSync(logFile, "a");
  // nsenter --net, not `ip netns exec`: that one also remounts /sys for the namespace, which drops the
  // cgroup mounts under /sys/fs/cgroup, and runc then fails every RUN step ("runc run failed: no cgroup
  // mount found in mountinfo", exit code 1). Only the network namespace is the remote host's here. nsenter
  // execs the command itself (no fork without --pid): the child's pid is buildkitd's.
  const child: ChildProcess = spawn(
    "nsenter",
    [
      `--net=/run/netns/${opts.host.ns}`,
      "--",
      opts.buildkitd,
      "--addr",
      endpoint,
      "--tlscacert",
      opts.pki.ca,
      "--tlscert",
      opts.pki.serverCert,
      "--tlskey",
      opts.pki.serverKey,
      "--root",
      join(dir, "root"),
      // RUN steps and pushes use the remote host's network: the veth to the registry.
      "--oci-worker-net",
      "host",
      "--containerd-worker",
      "false",
      "--config",
      config,
    ],
    { stdio: ["ignore", log, log] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not spawn buildkitd in the remote namespace");
  killOnExit(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const readLog = () => readFileSync(logFile, "utf8");

  const buildctl: RemoteBuildkitd["buildctl"] = (args, tls = opts.pki.client) => {
    const r = spawnSync(
      opts.buildctl,
      ["--addr", endpoint, "--tlscacert", tls.ca, "--tlscert", tls.cert, "--tlskey", tls.key, ...args],
      { encoding: "utf8", timeout: 60_000 },
    );
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (running()) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  for (const deadline = Date.now() + 30_000; ; ) {
    if (!running()) {
      const text = readLog();
      await stop();
      throw new Error(`buildkitd in ${opts.host.ns} exited while starting:\n${text}`);
    }
    if (buildctl(["--timeout", "2", "debug", "workers"]).status === 0) break;
    if (Date.now() > deadline) {
      const text = readLog();
      await stop();
      throw new Error(`buildkitd in ${opts.host.ns} did not answer on ${endpoint} within 30 s:\n${text}`);
    }
    await sleep(100);
  }
  return { endpoint, pid, logFile, log: readLog, running, buildctl, stop };
}

/** One finished build record, as `buildctl debug histories --format '{{json .}}'` prints it. */
export interface BuildRecord {
  ref: string;
  frontendAttrs: Record<string, string>;
  /** The image exporters' attrs: `name` holds the pushed tags. */
  exporters: Array<{ type: string; attrs: Record<string, string> }>;
  /** The digests of what the build produced (per platform): an image's manifest digest. */
  results: string[];
}

interface RawRecord {
  Ref?: string;
  FrontendAttrs?: Record<string, string>;
  Exporters?: Array<{ Type?: string; Attrs?: Record<string, string> }>;
  Result?: { Results?: Record<string, { digest?: string }> };
}

/** The build records a buildkitd keeps (the `buildctl` call given as a function: local or remote). */
export function buildRecords(
  run: (args: string[]) => {
    status: number | null;
    stdout: string;
    stderr: string;
  },
): BuildRecord[] {
  const r = run(["debug", "histories", "--format", "{{json .}}"]);
  if (r.status !== 0) throw new Error(`buildctl debug histories: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      // Go's encoding/json of BuildKit's protobuf types: the field names as the .proto spells them.
      const record = (JSON.parse(line) as { record?: RawRecord }).record ?? {};
      return {
        ref: record.Ref ?? "",
        frontendAttrs: record.FrontendAttrs ?? {},
        exporters: (record.Exporters ?? []).map((e) => ({ type: e.Type ?? "", attrs: e.Attrs ?? {} })),
        results: Object.values(record.Result?.Results ?? {}).map((d) => d.digest ?? ""),
      };
    });
}
