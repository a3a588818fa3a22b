/**
 * How one attempt of a registry request goes on the wire: node:http on one keep-alive Agent per backend
 * and scheme. A drift check is hundreds of small requests on one thread, so their CPU is its time: fetch()
 * cost about three times undici's request(), and undici, in turn, cost more per request than node:http
 * (bench:drift: 50 repositories 15 % slower) and about 60 ms of every drift command's start-up to load.
 *
 * What those libraries gave for free is kept here: redirects are followed (object-storage-backed
 * registries redirect blob GETs), at most MAX_REDIRECTS of them, only to http(s), and Authorization, Cookie
 * and Proxy-Authorization are dropped once a redirect leaves the origin, so a token never reaches the
 * storage host.
 */
import type { ClientRequest, IncomingMessage } from "node:http";
import { keepAliveAgents, requestOn } from "../../http/agents";

/** Enough for a registry, then a CDN; past it, the redirect itself is the answer (an unexpected status). */
export const MAX_REDIRECTS = 5;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const ORIGIN_BOUND_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

/** What a reply's headers are asked for. */
export interface ReplyHeaders {
  get(name: string): string | null;
}

export interface Answer {
  status: number;
  headers: ReplyHeaders;
  /** The body's chunks; cancelling the call (or aborting its signal) ends them with an error. */
  body: AsyncIterable<Uint8Array>;
  /** Frees the connection when the body is not wanted (or is cut off). */
  discard(): void;
}

export interface Outgoing {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** The caller's: aborting it ends the request, or its body, at once. */
  signal: AbortSignal;
}

/**
 * One attempt in flight. cancel() ends it like the signal, for the attempt's own deadline: a handle, not
 * an AbortController per attempt, which with its listeners was 6 % of a check's CPU.
 */
export interface Call {
  answer: Promise<Answer>;
  cancel(reason: Error): void;
}

export type Transport = (req: Outgoing) => Call;

/**
 * node:http with idle connections kept for the next request, at most `connections` per origin: without
 * a cap, a burst of requests opens one connection each, however many are about to come free.
 */
export function httpTransport(connections: number): Transport {
  const agents = keepAliveAgents(connections);
  return ({ method, url, headers, signal }) => {
    let current: ClientRequest | undefined;
    let response: IncomingMessage | undefined;
    let cancelled: Error | undefined;
    const send = (verb: string, to: URL, sent: Record<string, string>) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        current = requestOn(agents, to, { method: verb, headers: sent, signal });
        current.once("response", resolve);
        // `on`, not `once`: should a second error follow the first, an unheard 'error' event would throw.
        current.on("error", reject);
        current.end();
        if (cancelled) current.destroy(cancelled);
      });
    const answer = async (): Promise<Answer> => {
      let verb = method;
      let to = url;
      let sent = headers;
      for (let hop = 0; ; hop++) {
        const res = await send(verb, to, sent);
        const next = hop < MAX_REDIRECTS ? redirectTarget(res, to) : undefined;
        if (!next) {
          response = res;
          return answerOf(res);
        }
        // The redirect's own body is not wanted; reading it off lets its connection serve the next hop.
        res.resume();
        if (next.origin !== to.origin) sent = withoutOriginBound(sent);
        if (res.statusCode === 303 && verb !== "HEAD") verb = "GET";
        to = next;
      }
    };
    return {
      answer: answer(),
      cancel(reason) {
        cancelled = reason;
        // The response too: destroying only the request would end its body with "aborted", not the reason.
        response?.destroy(reason);
        current?.destroy(reason);
      },
    };
  };
}

/** Where a redirect leads, if `res` is one that can be followed (with a Location, to http or https). */
function redirectTarget(res: IncomingMessage, from: URL): URL | undefined {
  const location = res.headers.location;
  if (!REDIRECT_STATUSES.has(res.statusCode ?? 0) || !location) return undefined;
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return undefined;
  }
  return next.protocol === "http:" || next.protocol === "https:" ? next : undefined;
}

function withoutOriginBound(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).filter(([k]) => !ORIGIN_BOUND_HEADERS.has(k.toLowerCase())),
  );
}

function answerOf(res: IncomingMessage): Answer {
  return {
    status: res.statusCode ?? 0,
    headers: headerView(res.headers),
    body: res,
    discard: () => res.destroy(),
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
