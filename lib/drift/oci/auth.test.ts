import { describe, expect, it } from "vitest";
import { basicHeader, parseChallenges, RegistryAuth, type Send } from "./auth";
import { type Ctx, NEVER } from "./context";

const ctx: Ctx = { repository: "a/b", what: "list tags", signal: NEVER, shared: NEVER };
const challenge = (value: string) => ({
  status: 401,
  headers: new Headers({ "www-authenticate": value }),
  body: Buffer.alloc(0),
});

describe("parseChallenges", () => {
  it("reads several challenges, unquoted and escaped values, scheme and names in any case", () => {
    expect(
      parseChallenges('Basic realm="a \\"b\\"", BEARER Realm=https://t.example/token,service=reg'),
    ).toEqual([
      { scheme: "basic", params: { realm: 'a "b"' } },
      { scheme: "bearer", params: { realm: "https://t.example/token", service: "reg" } },
    ]);
    expect(parseChallenges("")).toEqual([]);
  });
});

describe("RegistryAuth", () => {
  it("after a Bearer challenge: one token per scope, fetched once for concurrent requests", async () => {
    const asked: string[] = [];
    const send: Send = async (_m, url) => {
      asked.push(url.href);
      await new Promise((r) => setTimeout(r, 5));
      return { status: 200, headers: new Headers(), body: Buffer.from(JSON.stringify({ token: "t1" })) };
    };
    const auth = new RegistryAuth("reg.example", "/absent/config.json", send);
    expect(await auth.authorization("repository:a/b:pull", ctx)).toBeUndefined();
    const bearer = challenge(
      'Bearer realm="https://t.example/token",service="reg",scope="repository:a/b:pull"',
    );
    // Three requests meet the same challenge at once: only the first fetches a token.
    await Promise.all([1, 2, 3].map(() => auth.onChallenge(bearer, "repository:a/b:pull", undefined, ctx)));
    const headers = await Promise.all([1, 2, 3].map(() => auth.authorization("repository:a/b:pull", ctx)));
    expect(headers).toEqual(["Bearer t1", "Bearer t1", "Bearer t1"]);
    expect(asked).toEqual(["https://t.example/token?service=reg&scope=repository%3Aa%2Fb%3Apull"]);
  });

  it("a Basic challenge without credentials says where none were found", async () => {
    const send: Send = async () => {
      throw new Error("no request expected");
    };
    const auth = new RegistryAuth("reg.example", "/absent/config.json", send);
    await expect(auth.onChallenge(challenge('Basic realm="r"'), "s", undefined, ctx)).rejects.toThrow(
      "OCI registry reg.example, repository a/b: list tags: the registry requires authentication (no credentials for reg.example in /absent/config.json (absent))",
    );
  });

  it("basicHeader is base64 of user:password", () => {
    expect(basicHeader({ username: "u", password: "p:w" })).toBe(
      `Basic ${Buffer.from("u:p:w").toString("base64")}`,
    );
  });
});
