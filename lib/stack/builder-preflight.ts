/**
 * Before any resource, the program asks the configured buildx builder whether it answers. docker-build
 * reaches a `remote` builder only when it builds, and its own failure says little about which builder or
 * why; a builder that is down, or that rejects our client certificate, fails the preview here instead,
 * naming the builder and its endpoint, within a bounded time. Certificates and keys are read into memory
 * only; nothing of them is logged or becomes a resource input.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";

export const PREFLIGHT_TIMEOUT_MS = 10_000;

interface BuilderNode {
  Endpoint?: string;
  DriverOpts?: Record<string, string> | null;
}

export interface BuilderInstance {
  name: string;
  driver: string;
  endpoint: string;
  opts: Record<string, string>;
}

export class BuilderError extends Error {
  override name = "BuilderError";
}

/** The buildx store docker-build reads: $BUILDX_CONFIG, else ~/.docker/buildx. */
export function buildxConfigDir(env: NodeJS.ProcessEnv): string {
  return env.BUILDX_CONFIG || join(env.DOCKER_CONFIG || join(homedir(), ".docker"), "buildx");
}

export function readBuilder(name: string, env: NodeJS.ProcessEnv): BuilderInstance {
  const file = join(buildxConfigDir(env), "instances", name);
  let group: { Driver?: string; Nodes?: BuilderNode[] };
  try {
    group = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new BuilderError(`builder ${name}: no usable buildx builder of that name (${file}: ${why})`);
  }
  const node = group.Nodes?.[0];
  return { name, driver: group.Driver ?? "", endpoint: node?.Endpoint ?? "", opts: node?.DriverOpts ?? {} };
}

// An HTTP/2 client preface and an empty SETTINGS frame: buildkitd speaks gRPC, and its first answer (its own
// SETTINGS) proves the whole TLS handshake was accepted. With TLS 1.3 a rejected client certificate shows up
// only after the client thinks the handshake is done, so a bare connect would pass.
const H2_PREFACE = Buffer.concat([
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

function connect(b: BuilderInstance): net.Socket {
  const url = new URL(b.endpoint);
  if (url.protocol === "unix:") return net.connect({ path: url.pathname });
  if (url.protocol !== "tcp:")
    throw new BuilderError(`builder ${b.name} (${b.endpoint}): unsupported endpoint scheme`);
  const port = Number(url.port);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!b.opts.cacert && !b.opts.cert) return net.connect({ host, port });
  const read = (opt: string) => {
    const path = b.opts[opt];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new BuilderError(
        `builder ${b.name} (${b.endpoint}): cannot read its ${opt} file ${path} (${(err as NodeJS.ErrnoException).code})`,
      );
    }
  };
  return tls.connect({
    host,
    port,
    ca: read("cacert"),
    cert: read("cert"),
    key: read("key"),
    servername: b.opts.servername || (net.isIP(host) ? undefined : host),
    ALPNProtocols: ["h2"],
  });
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOENT", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT"]);

/** What went wrong, in words: OpenSSL's own text names a source file, not the cause. */
export function describeFailure(err: NodeJS.ErrnoException): string {
  const code = err.code ?? "";
  if (UNREACHABLE.has(code)) return `not reachable (${code})`;
  const alert = /^ERR_SSL_TLSV1_ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|DECRYPT_ERROR)$/.exec(
    code,
  );
  if (alert?.[1])
    return `the builder rejected our client certificate (TLS alert: ${alert[1].toLowerCase().replace(/_/g, " ")})`;
  if (code === "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")
    return "the builder requires a client certificate (set cert and key)";
  if (/CERT|SELF_SIGNED|ALTNAME|VERIFY/.test(code))
    return `the builder's certificate does not verify against our cacert (${code})`;
  return `TLS or connection failure: ${code || err.message}`;
}

/** Resolves when the builder answers; rejects with a BuilderError naming it and its endpoint otherwise. */
export async function checkBuilder(b: BuilderInstance, timeoutMs = PREFLIGHT_TIMEOUT_MS): Promise<void> {
  // docker-container and kubernetes builders are started by buildx itself when it builds.
  if (b.driver !== "remote") return;
  const where = `builder ${b.name} (${b.endpoint})`;
  const socket = connect(b);
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new BuilderError(`${where}: ${why}`));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
    const ready = socket instanceof tls.TLSSocket ? "secureConnect" : "connect";
    socket.once(ready, () => socket.write(H2_PREFACE));
    socket.once("data", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once("error", (err: NodeJS.ErrnoException) => fail(describeFailure(err)));
    socket.once("end", () => fail("closed the connection before answering (a rejected client certificate?)"));
  });
}

/** The program's step: the configured builder answers, or the run stops here with why. */
export async function preflightBuilder(name: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  await checkBuilder(readBuilder(name, env));
}
