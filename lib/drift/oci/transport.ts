/**
 * How one attempt of a registry request goes on the wire. The default is undici's request() over one
 * keep-alive Agent per backend: a drift check makes hundreds of small requests, and fetch() spends about
 * three times its CPU on each (bench:drift measured 0.8 ms per request, most of it fetch's Response and
 * Headers machinery), the largest part of what kept 50 repositories on one thread from finishing in 2x one.
 *
 * What fetch gave for free is kept: redirects are followed (object-storage-backed registries redirect blob
 * GETs), at most MAX_REDIRECTS of them, and undici's redirect handler drops Authorization, Cookie and
 * Proxy-Authorization when a redirect leaves the origin, so a token never reaches the storage host.
 */
import { Agent, type Dispatcher, interceptors, request } from "undici";

/** Enough for a registry, then a CDN; a loop ends as an error. */
export const MAX_REDIRECTS = 5;

/** What a reply's headers are asked for. */
export interface ReplyHeaders {
  get(name: string): string | null;
}

export interface Answer {
  status: number;
  headers: ReplyHeaders;
  /** The body's chunks; aborting the request's signal ends them with an error. */
  body: AsyncIterable<Uint8Array>;
  /** Frees the connection when the body is not wanted (or is cut off). */
  discard(): void;
}

export interface Outgoing {
  method: string;
  url: URL;
  headers: Record<string, string>;
  signal: AbortSignal;
}

export type Transport = (req: Outgoing) => Promise<Answer>;

/**
 * undici request() on a dispatcher of its own, its idle connections kept for the next request. At most
 * `connections` per origin: without a cap, a request sent while another's finished connection waits its
 * turn to be reused opens one more (bench:drift saw 200 connections for 128 requests in flight).
 */
export function httpTransport(connections: number): Transport {
  const dispatcher: Dispatcher = new Agent({ keepAliveTimeout: 10_000, connections }).compose(
    interceptors.redirect({ maxRedirections: MAX_REDIRECTS }),
  );
  return async ({ method, url, headers, signal }) => {
    const res = await request(url, {
      method: method as Dispatcher.HttpMethod,
      headers,
      signal,
      dispatcher,
      // undici closes the connection after every HEAD, in case the server sends a body anyway; each
      // tag resolved by HEAD would then pay a new TCP (and TLS) handshake. A registry that did send one
      // breaks only the next answer on that connection, which fails to parse and is retried.
      reset: false,
    });
    return {
      status: res.statusCode,
      headers: headerView(res.headers),
      body: res.body,
      discard: () => res.body.destroy(),
    };
  };
}

/** Node's header record read as fetch reads Headers: repeated fields joined with ", ". */
function headerView(raw: Record<string, string | string[] | undefined>): ReplyHeaders {
  return {
    get(name) {
      const value = raw[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(", ") : value;
    },
  };
}
