import { describe, expect, it } from "vitest";
import { CheckError } from "../types";
import { type Ctx, NEVER } from "./context";
import type { Reply } from "./fetch";
import { pages } from "./pages";

const ctx: Ctx = { what: "list", signal: NEVER, shared: NEVER };

/** A client whose answers carry the Link header `links(url)` gives each page. */
function pager(links: (url: URL) => string | undefined) {
  const asked: string[] = [];
  return {
    asked,
    client: {
      baseUrl: "https://r.example",
      url: (p: string) => new URL(p, "https://r.example"),
      fail: (_c: unknown, reason: string) => new CheckError(reason),
      request: async (_m: "GET" | "HEAD", url: URL): Promise<Reply> => {
        asked.push(url.href);
        const link = links(url);
        return { status: 200, headers: new Headers(link ? { link } : {}), body: Buffer.alloc(0) };
      },
    },
  };
}

async function walk(client: ReturnType<typeof pager>["client"]): Promise<number> {
  let n = 0;
  for await (const _ of pages(client, "/v2/_catalog", "registry:catalog:*", ctx)) n++;
  return n;
}

describe("pages", () => {
  it("follows rel=next, relative to each page, until a page has none", async () => {
    const p = pager((url) => (url.search === "" ? '</v2/_catalog?last=a>; rel="next"' : undefined));
    expect(await walk(p.client)).toBe(2);
    expect(p.asked).toEqual(["https://r.example/v2/_catalog", "https://r.example/v2/_catalog?last=a"]);
  });

  it("refuses a next page on another origin, before asking for it", async () => {
    const p = pager(() => '<https://elsewhere.example/v2/_catalog?last=a>; rel="next"');
    await expect(walk(p.client)).rejects.toThrow("a Link header points to another origin");
    expect(p.asked).toHaveLength(1);
  });

  it("refuses a page it has already seen", async () => {
    const p = pager((url) => (url.search === "" ? '<?last=a>; rel="next"' : '</v2/_catalog>; rel="next"'));
    await expect(walk(p.client)).rejects.toThrow("the Link pagination loops");
    expect(p.asked).toHaveLength(2);
  });
});
