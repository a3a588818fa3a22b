// The builder check against real loopback servers: a TLS server that demands a client certificate, as
// buildkitd with --tlscacert does, one that never answers, and a closed port.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerBuilder } from "../local/buildkit";
import { type BuilderInstance, checkBuilder, describeFailure, readBuilder } from "./builder-preflight";

let dir: string;
const servers: net.Server[] = [];
const file = (name: string) => path.join(dir, name);

function openssl(args: string[]) {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

/** A certificate for `cn` signed by `ca` (made on first use), with an IP SAN for a server. */
function issue(ca: string, cn: string, san?: string) {
  if (!existsSync(file(`${ca}.pem`)))
    openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      `/CN=${ca}`,
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.pem`,
    ]);
  openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    `/CN=${cn}`,
    "-keyout",
    `${cn}.key`,
    "-out",
    `${cn}.csr`,
  ]);
  const ext = file(`${cn}.ext`);
  writeFileSync(ext, san ? `subjectAltName=${san}\n` : "extendedKeyUsage=clientAuth\n");
  openssl([
    "x509",
    "-req",
    "-in",
    `${cn}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    ext,
    "-out",
    `${cn}.pem`,
  ]);
}

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as net.AddressInfo).port;
}

const remote = (port: number, client = "client", ca = "ca"): BuilderInstance => ({
  name: "fleet",
  driver: "remote",
  endpoint: `tcp://127.0.0.1:${port}`,
  opts: { cacert: file(`${ca}.pem`), cert: file(`${client}.pem`), key: file(`${client}.key`) },
});

let tlsPort: number;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "preflight-"));
  issue("ca", "server", "IP:127.0.0.1");
  issue("ca", "client");
  issue("other-ca", "stranger");
  tlsPort = await listen(
    tls.createServer(
      {
        cert: readFileSync(file("server.pem")),
        key: readFileSync(file("server.key")),
        ca: readFileSync(file("ca.pem")),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ["h2"],
      },
      (s) => s.once("data", () => s.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]))),
    ),
  );
});

afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the builder check", () => {
  it("passes a remote builder that completes mutual TLS and answers", async () => {
    await expect(checkBuilder(remote(tlsPort))).resolves.toBeUndefined();
  });

  it("a client certificate from another CA fails, naming the builder and the endpoint", async () => {
    const t0 = Date.now();
    await expect(checkBuilder(remote(tlsPort, "stranger", "ca"))).rejects.toThrow(
      // A Node server hangs up; buildkitd sends the TLS alert (see describeFailure below and the remote tier).
      new RegExp(
        `^builder fleet \\(tcp://127\\.0\\.0\\.1:${tlsPort}\\): (closed the connection before answering|the builder rejected our client certificate)`,
      ),
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it("names the cause of a TLS failure, not OpenSSL's source file", () => {
    const err = (code: string) => Object.assign(new Error("80AC...:rec_layer_s3.c:1601"), { code });
    expect(describeFailure(err("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA"))).toBe(
      "the builder rejected our client certificate (TLS alert: unknown ca)",
    );
    expect(describeFailure(err("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"))).toBe(
      "the builder requires a client certificate (set cert and key)",
    );
    expect(describeFailure(err("UNABLE_TO_VERIFY_LEAF_SIGNATURE"))).toBe(
      "the builder's certificate does not verify against our cacert (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    );
    expect(describeFailure(err("EHOSTUNREACH"))).toBe("not reachable (EHOSTUNREACH)");
  });

  it("a builder that is down fails at once as not reachable", async () => {
    const port = await listen(net.createServer());
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 50));
    await expect(checkBuilder(remote(port))).rejects.toThrow(
      `builder fleet (tcp://127.0.0.1:${port}): not reachable (ECONNREFUSED)`,
    );
  });

  it("a builder that accepts and never answers fails when the bound runs out", async () => {
    const port = await listen(net.createServer(() => {}));
    await expect(checkBuilder({ ...remote(port), opts: {} }, 300)).rejects.toThrow(
      `builder fleet (tcp://127.0.0.1:${port}): no answer within 0.3 s`,
    );
  });

  it("reads the builder from the buildx store, and names what is missing", () => {
    const store = file("buildx");
    registerBuilder(store, "fleet", "tcp://127.0.0.1:1", "remote", { cacert: "/c" });
    expect(readBuilder("fleet", { BUILDX_CONFIG: store })).toEqual({
      name: "fleet",
      driver: "remote",
      endpoint: "tcp://127.0.0.1:1",
      opts: { cacert: "/c" },
    });
    expect(() => readBuilder("nope", { BUILDX_CONFIG: store })).toThrow(
      `builder nope: no usable buildx builder of that name (${store}/instances/nope: ENOENT)`,
    );
  });
});
