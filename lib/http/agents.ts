/**
 * Requests over node:http on keep-alive Agents of one's own, the scheme choosing the module. node:http,
 * not undici or fetch: it is in Node's start-up snapshot (undici cost a command about 60 ms to load) and
 * costs less CPU per request. Idle keep-alive sockets are unref'd by the Agent, so they never hold a
 * finished run open.
 */
import http, { type ClientRequest, type RequestOptions } from "node:http";
import https from "node:https";

export interface Agents {
  "http:": http.Agent;
  "https:": https.Agent;
}

/** One keep-alive Agent per scheme; at most `maxSockets` connections per origin when given. */
export function keepAliveAgents(maxSockets?: number): Agents {
  return {
    "http:": new http.Agent({ keepAlive: true, maxSockets }),
    "https:": new https.Agent({ keepAlive: true, maxSockets }),
  };
}

/** http.request or https.request, by `url`'s scheme, on that scheme's agent. Not yet sent: end() it. */
export function requestOn(agents: Agents, url: URL, options: RequestOptions): ClientRequest {
  return url.protocol === "https:"
    ? https.request(url, { ...options, agent: agents["https:"] })
    : http.request(url, { ...options, agent: agents["http:"] });
}
