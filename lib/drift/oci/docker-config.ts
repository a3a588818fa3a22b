/**
 * Registry credentials from a Docker config file, the one `docker login` writes. Only inline entries are
 * read (`auth`, or `username` and `password`); a credential helper is named back, never run.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CheckError } from "../types";

export interface Credentials {
  username: string;
  password: string;
}

export interface DockerAuth {
  credentials?: Credentials;
  /** Where they came from, for messages (the file, never its content). */
  source: string;
  /** The config names a credential helper for this host, which this backend does not run. */
  helper?: string;
}

/** The parts of a Docker config this backend reads. */
export interface DockerConfig {
  auths?: Record<string, { auth?: unknown; username?: unknown; password?: unknown }>;
  credsStore?: unknown;
  credHelpers?: Record<string, unknown>;
}

/** $DOCKER_CONFIG/config.json, else ~/.docker/config.json: where Docker itself looks. */
export function defaultDockerConfigPath(): string {
  return path.join(process.env.DOCKER_CONFIG || path.join(os.homedir(), ".docker"), "config.json");
}

/** The credentials for `host` in `file`; a missing file means anonymous. */
export async function readDockerAuth(file: string, host: string): Promise<DockerAuth> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { source: `${file} (absent)` };
    throw new CheckError(
      `OCI registry ${host}: cannot read Docker config ${file}: ${(err as Error).message}`,
    );
  }
  let config: DockerConfig;
  try {
    config = JSON.parse(text);
  } catch {
    // Not the parser's message: it can quote the file's content.
    throw new CheckError(`OCI registry ${host}: Docker config ${file} is not valid JSON`);
  }
  return dockerAuthFor(config, host, file);
}

/** What `config` (read from `file`) holds for `host`. */
export function dockerAuthFor(config: DockerConfig, host: string, file: string): DockerAuth {
  const wanted = registryKeys(host);
  const entry = Object.entries(config.auths ?? {}).find(([key]) => wanted.has(normalizeAuthKey(key)))?.[1];
  const helper = Object.entries(config.credHelpers ?? {}).find(([key]) =>
    wanted.has(normalizeAuthKey(key)),
  )?.[1];
  const result: DockerAuth = { source: file };
  if (typeof helper === "string") result.helper = helper;
  else if (typeof config.credsStore === "string" && !entry) result.helper = config.credsStore;
  if (entry) {
    if (typeof entry.auth === "string" && entry.auth !== "") {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) {
        throw new CheckError(
          `OCI registry ${host}: the "auth" for ${host} in ${file} is not base64 of user:password`,
        );
      }
      result.credentials = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    } else if (typeof entry.username === "string" && typeof entry.password === "string") {
      result.credentials = { username: entry.username, password: entry.password };
    }
  }
  return result;
}

/** Docker writes auths keys as `host`, `https://host` or `https://host/v1/`. */
function normalizeAuthKey(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
}

function registryKeys(host: string): Set<string> {
  const h = host.toLowerCase();
  // Docker Hub's API host differs from the name `docker login` stores credentials under.
  if (h === "registry-1.docker.io" || h === "docker.io") return new Set([h, "index.docker.io"]);
  return new Set([h]);
}
