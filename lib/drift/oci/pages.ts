/**
 * Link pagination of the catalog and of tag lists. Every page is followed on the registry's own origin
 * only (its requests carry credentials), and a registry whose pages loop or never end is a failure.
 */
import { nextLink } from "../../http/link";
import type { RegistryClient } from "./client";
import type { Ctx } from "./context";
import type { Reply } from "./fetch";

/** Pages of tags or catalog we follow; a registry sending more is looping. */
export const MAX_PAGES = 10_000;

type Pager = Pick<RegistryClient, "baseUrl" | "url" | "request" | "fail">;

/** GETs `first`, then each `Link: <...>; rel="next"`, yielding every answer (the caller checks status). */
export async function* pages(client: Pager, first: string, scope: string, ctx: Ctx): AsyncGenerator<Reply> {
  let next: URL | undefined = client.url(first);
  const seen = new Set<string>();
  while (next) {
    if (seen.has(next.href) || seen.size >= MAX_PAGES) throw client.fail(ctx, "the Link pagination loops");
    seen.add(next.href);
    const reply = await client.request("GET", next, scope, ctx, "application/json");
    yield reply;
    next = nextLink(reply.headers.get("link"), next);
    // Credentials go with every request: never follow a page link to another origin.
    if (next && next.origin !== new URL(client.baseUrl).origin) {
      throw client.fail(ctx, `a Link header points to another origin (${next.origin})`);
    }
  }
}
