import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckError } from "../types";
import { dockerAuthFor, readDockerAuth } from "./docker-config";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const FILE = "/cfg/config.json";

describe("dockerAuthFor", () => {
  it("finds an entry under any of the key forms docker login writes, host case aside", () => {
    for (const key of ["reg.example:5000", "https://reg.example:5000", "https://REG.example:5000/v1/"]) {
      const auth = dockerAuthFor({ auths: { [key]: { auth: b64("u:p:w") } } }, "reg.example:5000", FILE);
      expect(auth, key).toEqual({ source: FILE, credentials: { username: "u", password: "p:w" } });
    }
  });

  it("does not take another host's entry, nor the same host on another port", () => {
    const config = { auths: { "reg.example": { auth: b64("u:p") }, "other.example:5000": {} } };
    expect(dockerAuthFor(config, "reg.example:5000", FILE)).toEqual({ source: FILE });
  });

  it("files Docker Hub's API host under the name docker login uses", () => {
    const config = { auths: { "https://index.docker.io/v1/": { auth: b64("hub:pw") } } };
    expect(dockerAuthFor(config, "registry-1.docker.io", FILE).credentials).toEqual({
      username: "hub",
      password: "pw",
    });
  });

  it("reads username and password fields when there is no auth", () => {
    const config = { auths: { h: { username: "u", password: "p" } } };
    expect(dockerAuthFor(config, "h", FILE).credentials).toEqual({ username: "u", password: "p" });
  });

  it("names a host's credential helper, and the credsStore only when no entry is inline", () => {
    expect(dockerAuthFor({ credHelpers: { h: "ecr-login" } }, "h", FILE).helper).toBe("ecr-login");
    expect(dockerAuthFor({ credsStore: "desktop" }, "h", FILE).helper).toBe("desktop");
    const inline = dockerAuthFor({ credsStore: "desktop", auths: { h: { auth: b64("u:p") } } }, "h", FILE);
    expect(inline.helper).toBeUndefined();
    expect(inline.credentials?.username).toBe("u");
  });

  it("refuses an auth that is not user:password, without quoting it", () => {
    const secret = b64("no-colon-here");
    let err: unknown;
    try {
      dockerAuthFor({ auths: { h: { auth: secret } } }, "h", FILE);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckError);
    expect((err as Error).message).toContain("is not base64 of user:password");
    expect((err as Error).message).not.toContain(secret);
  });
});

describe("readDockerAuth", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "docker-config-test-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("a missing file is anonymous, said as absent", async () => {
    const file = path.join(dir, "nope", "config.json");
    expect(await readDockerAuth(file, "h")).toEqual({ source: `${file} (absent)` });
  });

  it("a file that is not JSON is refused without the parser's message", async () => {
    const file = path.join(dir, "broken.json");
    await writeFile(file, `{"auths": {"h": {"auth": "${b64("u:hunter2")}"`);
    await expect(readDockerAuth(file, "h")).rejects.toThrow(/is not valid JSON$/);
  });
});
