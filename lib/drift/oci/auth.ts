/**
 * How a registry wants to be authenticated, learnt from its first 401: a WWW-Authenticate Bearer challenge
 * (a token from the realm, one per scope, shared by concurrent requests and renewed when refused) or Basic
 * (the Docker config's credentials on every request). Failures say where credentials would come from,
 * never what they are.
 */
import type { CheckError } from "../types";
import { parseJson } from "./body";
import { type Ctx, failure, statusFailure } from "./context";
import { type Credentials, type DockerAuth, readDockerAuth } from "./docker-config";
import type { Reply } from "./fetch";
import { isLoopback } from "./loopback";

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** The parameters of each challenge in a WWW-Authenticate header (scopes may contain commas, quoted). */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /([A-Za-z][\w-]*)(?:\s+|$)((?:[\w-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,\s*)?)*)/g;
  for (const m of header.matchAll(re)) {
    const scheme = (m[1] ?? "").toLowerCase();
    const params: Record<string, string> = {};
    for (const p of (m[2] ?? "").matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
      const key = (p[1] ?? "").toLowerCase();
      params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : (p[3] ?? "");
    }
    out.push({ scheme, params });
  }
  return out;
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

/** Sends one request (retried, never authenticated by this function itself). */
export type Send = (method: string, url: URL, headers: Record<string, string>, ctx: Ctx) => Promise<Reply>;

export class RegistryAuth {
  private auth: Promise<DockerAuth> | undefined;
  private bearer: { realm: string; service?: string } | undefined;
  private basic = false;
  /** Bearer tokens by request scope; a promise, so concurrent requests share one token fetch. */
  private readonly tokens = new Map<string, Promise<string>>();

  constructor(
    private readonly host: string,
    private readonly dockerConfigPath: string,
    private readonly send: Send,
  ) {}

  /** The Authorization header for a request of `scope`, once the registry has said what it wants. */
  async authorization(scope: string, ctx: Ctx): Promise<string | undefined> {
    if (this.bearer) return `Bearer ${await this.token(scope, scope, ctx)}`;
    if (this.basic) {
      const { credentials } = await this.dockerAuth();
      if (credentials) return basicHeader(credentials);
    }
    return undefined;
  }

  /** Learns from a 401 answered to a request that sent `sent`, or throws when it cannot be satisfied. */
  async onChallenge(reply: Reply, scope: string, sent: string | undefined, ctx: Ctx): Promise<void> {
    const challenges = parseChallenges(reply.headers.get("www-authenticate") ?? "");
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    if (bearer?.params.realm) {
      this.bearer = { realm: bearer.params.realm, service: bearer.params.service };
      // Concurrent requests meet the same challenge: only the first of them fetches a new token.
      const current = this.tokens.get(scope);
      if (current) {
        const value = await current.catch(() => undefined);
        if (value !== undefined && `Bearer ${value}` !== sent) return;
      }
      this.tokens.delete(scope);
      // The challenge names the scope the registry wants; the token is still filed under ours.
      await this.token(scope, bearer.params.scope || scope, ctx);
      return;
    }
    if (basic) {
      const auth = await this.dockerAuth();
      if (!auth.credentials) throw await this.error(ctx, "the registry requires authentication");
      if (sent?.startsWith("Basic ")) throw await this.error(ctx, "the registry rejected the credentials");
      this.basic = true;
      return;
    }
    throw await this.error(ctx, "401 without a usable WWW-Authenticate challenge");
  }

  /** An auth failure, saying where credentials would come from (never what they are). */
  async error(ctx: Ctx, reason: string): Promise<CheckError> {
    const auth = await this.dockerAuth().catch(() => undefined);
    let hint = "";
    if (auth?.credentials) hint = ` (credentials for ${this.host} from ${auth.source})`;
    else if (auth?.helper) {
      hint = ` (${auth.source} names the credential helper "${auth.helper}" for ${this.host}, which this check does not run; put an "auth" entry in a config file and point DOCKER_CONFIG at its directory)`;
    } else hint = ` (no credentials for ${this.host} in ${auth?.source ?? this.dockerConfigPath})`;
    return failure(this.host, ctx, reason + hint);
  }

  private dockerAuth(): Promise<DockerAuth> {
    this.auth ??= readDockerAuth(this.dockerConfigPath, this.host);
    return this.auth;
  }

  /** The cached token for `key`, or a new one for `scope` (a failed fetch is not kept). */
  private token(key: string, scope: string, ctx: Ctx): Promise<string> {
    let token = this.tokens.get(key);
    if (!token) {
      const fresh = this.fetchToken(scope, ctx);
      token = fresh;
      this.tokens.set(key, fresh);
      fresh.catch(() => {
        if (this.tokens.get(key) === fresh) this.tokens.delete(key);
      });
    }
    return token;
  }

  private async fetchToken(scope: string, ctx: Ctx): Promise<string> {
    // Shared by every request of the scope, so not cancelled by the one that happened to start it: only
    // by the caller's signal (the check's deadline).
    const tokenCtx: Ctx = { ...ctx, what: `${ctx.what}: get a token for ${scope}`, signal: ctx.shared };
    const realm = this.realmUrl(scope, tokenCtx);
    const headers: Record<string, string> = {};
    const { credentials } = await this.dockerAuth();
    if (credentials) {
      // A password in clear text over the network is a leak, whatever the registry asks for.
      if (realm.protocol !== "https:" && !isLoopback(realm.host)) {
        throw failure(
          this.host,
          tokenCtx,
          `refusing to send credentials to a non-HTTPS token realm (${realm.origin})`,
        );
      }
      headers.authorization = basicHeader(credentials);
    }
    const reply = await this.send("GET", realm, headers, tokenCtx);
    if (reply.status === 401 || reply.status === 403) {
      throw await this.error(
        tokenCtx,
        `the token endpoint refused ${credentials ? "the credentials" : "anonymous access"} (HTTP ${reply.status})`,
      );
    }
    if (reply.status !== 200) throw statusFailure(this.host, reply, tokenCtx);
    const json = parseJson(reply.body, () => failure(this.host, tokenCtx, "the token answer is not JSON"));
    const token = typeof json.token === "string" ? json.token : json.access_token;
    if (typeof token !== "string" || token === "") {
      throw failure(this.host, tokenCtx, "the token answer has no token");
    }
    return token;
  }

  /** The realm of the Bearer challenge, asked for `scope`. */
  private realmUrl(scope: string, ctx: Ctx): URL {
    const bearer = this.bearer;
    if (!bearer) throw failure(this.host, ctx, "no token realm");
    let realm: URL;
    try {
      realm = new URL(bearer.realm);
    } catch {
      throw failure(this.host, ctx, `the token realm ${JSON.stringify(bearer.realm)} is not a URL`);
    }
    if (realm.protocol !== "https:" && realm.protocol !== "http:") {
      throw failure(this.host, ctx, `the token realm ${realm.origin} is not HTTP(S)`);
    }
    if (bearer.service) realm.searchParams.set("service", bearer.service);
    if (scope) realm.searchParams.set("scope", scope);
    return realm;
  }
}
