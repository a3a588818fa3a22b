/**
 * Requests to one OCI distribution registry: its base URL, retried requests, and auth handled for them.
 * Every failure it throws is a CheckError naming the registry, the repository and the step.
 */
import type { CheckError } from "../types";
import { RegistryAuth } from "./auth";
import { type Ctx, failure, statusFailure } from "./context";
import { type FetchPolicy, fetchRetrying, GaveUp, type Reply } from "./fetch";
import { isLoopback } from "./loopback";

export class RegistryClient {
  /** http://host for loopback registries, https://host otherwise. */
  readonly baseUrl: string;
  private readonly auth: RegistryAuth;

  constructor(
    readonly host: string,
    dockerConfigPath: string,
    private readonly policy: FetchPolicy,
  ) {
    this.baseUrl = `${isLoopback(host) ? "http" : "https"}://${host}`;
    this.auth = new RegistryAuth(host, dockerConfigPath, (method, url, headers, ctx) =>
      this.send(method, url, headers, ctx),
    );
  }

  url(pathAndQuery: string): URL {
    return new URL(pathAndQuery, this.baseUrl);
  }

  /** One request with auth handled: answers with any status except an unresolved 401, which throws. */
  async request(method: "GET" | "HEAD", url: URL, scope: string, ctx: Ctx, accept?: string): Promise<Reply> {
    // Up to two challenges per request: the first teaches the scheme, the second renews an expired token.
    for (let round = 0; ; round++) {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept;
      const authorization = await this.auth.authorization(scope, ctx);
      if (authorization) headers.authorization = authorization;
      const reply = await this.send(method, url, headers, ctx);
      if (reply.status !== 401) return reply;
      if (round >= 2) throw await this.auth.error(ctx, "the registry keeps answering 401");
      await this.auth.onChallenge(reply, scope, authorization, ctx);
    }
  }

  fail(ctx: Pick<Ctx, "repository" | "what">, reason: string): CheckError {
    return failure(this.host, ctx, reason);
  }

  statusError(reply: Reply, ctx: Ctx): CheckError {
    return statusFailure(this.host, reply, ctx);
  }

  /** A request retried as the policy says; one that gave up is a CheckError saying why. */
  private async send(method: string, url: URL, headers: Record<string, string>, ctx: Ctx): Promise<Reply> {
    try {
      return await fetchRetrying(this.policy, method, url, headers, ctx.signal);
    } catch (err) {
      throw err instanceof GaveUp ? this.fail(ctx, err.message) : err;
    }
  }
}

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}
