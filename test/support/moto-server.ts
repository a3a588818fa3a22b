// moto's server (PyPI `moto`, pinned in .ci/moto-requirements.txt) as a stand-in for the ECR API: a real HTTP
// endpoint speaking ECR's JSON protocol, so the AWS SDK's own serialisation, signing and error parsing run.
// .ci/moto-server installs it and prints the path that MOLECULE_MOTO_SERVER names.

import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { DescribeRepositoriesCommand, ECRClient } from "@aws-sdk/client-ecr";
import { killOnExit } from "./kill-on-exit";

export const MOTO_ENV = "MOLECULE_MOTO_SERVER";
export const MOTO_INSTALL_HINT = `export ${MOTO_ENV}=$(bash .ci/moto-server)`;
/** moto's default account: repositories it creates live in this registry. */
export const MOTO_ACCOUNT = "123456789012";

/**
 * Why the tier cannot run here, or undefined when it can. Unset means not installed (a skip on a laptop);
 * set to something that is not an executable is a broken setup, and throws.
 */
export function motoUnavailable(): string | undefined {
  const bin = process.env[MOTO_ENV];
  if (!bin) return `${MOTO_ENV} is not set (install and point to moto's server with: ${MOTO_INSTALL_HINT})`;
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new Error(`${MOTO_ENV}=${bin} is not an executable (reinstall with: ${MOTO_INSTALL_HINT})`);
  }
  return undefined;
}

export interface MotoServer {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly pid: number;
  /** What the server printed so far (its request log), for failure messages. */
  log(): string;
  /** SIGTERM (SIGKILL after 5 s) to this server's pid only. Idempotent. */
  stop(): Promise<void>;
}

/** Dummy credentials, given in the client's config: the SDK never looks for real ones. */
export function motoClient(url: string, region: string): ECRClient {
  return new ECRClient({
    region,
    endpoint: url,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    // A local server does not throttle: a failure should show at once, not after retries.
    maxAttempts: 1,
  });
}

/**
 * Starts moto_server on 127.0.0.1 port 0 (the kernel picks a free port, so there is no race for one) and
 * reads the port from werkzeug's "Running on" line; ready once an ECR call through the SDK answers.
 */
export async function startMoto(bin: string, readyWithinMs = 30_000): Promise<MotoServer> {
  const child = spawn(bin, ["-H", "127.0.0.1", "-p", "0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  let output = "";
  const onData = (chunk: string) => {
    // Keep the tail only: every request is logged, and the seed makes over a thousand.
    output = (output + chunk).slice(-20_000);
  };
  child.stdout?.setEncoding("utf8").on("data", onData);
  child.stderr?.setEncoding("utf8").on("data", onData);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${bin}`);
  killOnExit(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= killAndWait(child, exited);
    return stopping;
  };

  const deadline = Date.now() + readyWithinMs;
  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(`moto_server (${bin}) ${why}:\n${output.trim()}`);
  };
  let url: string | undefined;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) await fail("exited before serving");
    url ??= /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    if (url) {
      try {
        await motoClient(url, "us-east-1").send(new DescribeRepositoriesCommand({}), {
          abortSignal: AbortSignal.timeout(2_000),
        });
        break;
      } catch {
        // Listening, not answering yet.
      }
    }
    if (Date.now() > deadline) await fail(`did not answer within ${readyWithinMs / 1000} s`);
    await sleep(100);
  }
  return { url, pid, log: () => output, stop };
}

async function killAndWait(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}
