/**
 * Fetching one pinned commit over smart HTTP, protocol v2, from this process: one POST of `command=fetch`
 * (want the SHA, depth 1), its pack streamed into `git index-pack`. `git fetch` makes two requests for the
 * same pack (the capability advertisement, then the fetch) and runs five processes (fetch, the remote-http
 * helper and its dispatcher, index-pack, and rev-list to check connectivity); on two cores those were
 * most of a cold stage's time. The pack reader checks every object it reads (pack-store.ts), which is
 * what rev-list's check was for.
 *
 * It only ever answers for what it understands. A redirect, a 404 or a 5xx (a server that cannot take a
 * request without git's first one may answer either), an answer in another protocol, a refused SHA, a
 * failed connection or TLS handshake, or a 401 to a request without a token is handed to `git fetch`,
 * which decides exactly as before (redirect policy, v0 fallback, credential helpers). What is final here:
 * a pack indexed, a commit the server says it does not have, a token refused, and silence (bounded like
 * git: nothing at all for the inactivity bound, or less than a byte a second over it).
 */
import type { IncomingMessage } from "node:http";
import { keepAliveAgents, requestOn } from "../../http/agents";
import { userOnly } from "./env";
import { classifyGitFailure, GitError, redactUrl } from "./failure";
import { PktLineError, PktLineReader, pktLine } from "./pkt-line";
import { DEFAULT_INACTIVITY_S, type GitRun, killGroup, spawnGit } from "./process";

export type DirectOutcome = "fetched" | "use-git";

const SECTIONS = new Set(["acknowledgments", "shallow-info", "wanted-refs", "packfile"]);

// Kept alive: one TLS handshake per host serves the run's entries.
const agents = keepAliveAgents();

function requestBody(sha: string): string {
  return [
    pktLine("command=fetch\n"),
    pktLine("object-format=sha1\n"),
    "0001",
    pktLine("ofs-delta\n"),
    pktLine("no-progress\n"),
    pktLine(`want ${sha}\n`),
    pktLine("deepen 1\n"),
    pktLine("done\n"),
    "0000",
  ].join("");
}

const silentMessage = (seconds: number) =>
  `no output or progress for ${seconds} s (the inactivity bound, --git-timeout-s): the request timed out`;

/** Our reason for ending a request (the bound, the cap, an abort), as opposed to the peer's. */
class Ended extends Error {
  constructor(readonly failure: GitError) {
    super(failure.message);
  }
}

/**
 * POSTs the fetch. Resolves with the response (headers in), or "use-git" when the connection or TLS
 * handshake failed: git then tries with its own settings and says what went wrong. Any silence longer
 * than the inactivity bound (connecting, handshaking, waiting, or between two chunks) ends it.
 */
function post(
  url: URL,
  sha: string,
  run: GitRun,
  seconds: number,
  stop: AbortSignal,
  saw: (n: number) => void,
) {
  const body = requestBody(sha);
  const auth = run.authorizationFor?.(url.origin);
  return new Promise<{ res: IncomingMessage; auth: boolean; ended: () => Ended | undefined } | "use-git">(
    (resolve, reject) => {
      let ended: Ended | undefined;
      let answered = false;
      const req = requestOn(agents, url, {
        method: "POST",
        timeout: seconds * 1000,
        headers: {
          "content-type": "application/x-git-upload-pack-request",
          accept: "application/x-git-upload-pack-result",
          "git-protocol": "version=2",
          // Hosts serve protocol v2 only to a client that says it is git.
          "user-agent": "git/2 (molecule-images)",
          "content-length": Buffer.byteLength(body),
          ...(auth ? { authorization: auth } : {}),
        },
      });
      const end = (failure: GitError) => {
        ended ??= new Ended(failure);
        req.destroy(ended);
      };
      // Every byte counts for the low-speed bound, the status line and headers too (as curl counts).
      req.on("socket", (socket) => {
        const onData = (chunk: Buffer) => saw(chunk.length);
        socket.on("data", onData);
        req.once("close", () => socket.off("data", onData));
      });
      req.on("timeout", () => end(new GitError(silentMessage(seconds), "transient", "", !answered)));
      const onStop = () => end(stop.reason as GitError);
      if (stop.aborted) onStop();
      stop.addEventListener("abort", onStop, { once: true });
      req.on("close", () => stop.removeEventListener("abort", onStop));
      req.on("error", () => {
        if (answered) return; // the response stream reports it
        if (ended) reject(ended.failure);
        else resolve("use-git");
      });
      req.on("response", (res) => {
        answered = true;
        resolve({ res, auth: auth !== undefined, ended: () => ended });
      });
      req.end(body);
    },
  );
}

/**
 * Fetches `sha` from `url` into `gitDir` and returns "fetched", or "use-git" when git must answer
 * instead (nothing is written in that case). Throws a GitError for a final failure.
 */
export async function fetchDirect(
  gitDir: string,
  url: string,
  sha: string,
  run: GitRun,
): Promise<DirectOutcome> {
  const base = new URL(url);
  if (base.username || base.password || !/^https?:$/.test(base.protocol)) return "use-git";
  const target = new URL(`${base.href.replace(/\/+$/, "")}/git-upload-pack`);
  const seconds = run.inactivityS ?? DEFAULT_INACTIVITY_S;
  const stop = new AbortController();
  const onAbort = () => stop.abort(new GitError("git fetch: aborted", "transient"));
  if (run.signal?.aborted) onAbort();
  run.signal?.addEventListener("abort", onAbort, { once: true });
  const cap = setTimeout(
    () =>
      stop.abort(new GitError(`fetch of ${redactUrl(url)}: over ${run.timeoutMs} ms in all`, "transient")),
    run.timeoutMs,
  );
  const slow = lowSpeedWatch(seconds, stop);
  try {
    const answer = await post(target, sha, run, seconds, stop.signal, slow.saw);
    if (answer === "use-git") return answer;
    const { res } = answer;
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      res.destroy();
      if ((status === 401 || status === 403) && answer.auth)
        throw new GitError(`HTTP ${status}: the token was refused`, "auth");
      // A token's host: git would not follow the redirect either; fetchCommit asks where it points and
      // follows it only within the host (redirect.ts), exactly as for git's own redirect error.
      if (status >= 300 && status < 400 && answer.auth)
        throw new GitError(`the server redirects (HTTP ${status})`, "transient", `returned error: ${status}`);
      return "use-git";
    }
    return await receive(res, gitDir, run, slow, answer.ended);
  } finally {
    slow.stop();
    clearTimeout(cap);
    run.signal?.removeEventListener("abort", onAbort);
  }
}

/** Reads the v2 answer: until its pack begins, anything unexpected is git's to deal with. */
async function receive(
  body: IncomingMessage,
  gitDir: string,
  run: GitRun,
  slow: LowSpeedWatch,
  ended: () => Ended | undefined,
): Promise<DirectOutcome> {
  const reader = new PktLineReader();
  // The answer is sections (gitprotocol-v2), each a name line, then its lines, then a delimiter or, after
  // the last (the pack), a flush.
  let section: string | undefined;
  let expectName = true;
  let indexer: Indexer | undefined;
  // The sideband of the packet being read: its first byte, which only its first piece carries.
  let band: number | undefined;
  try {
    let indexed: Promise<void> | undefined;
    for await (const chunk of body) {
      // After the pack: the response is still read to its end, so its connection can serve the next entry.
      if (indexed) continue;
      for (const packet of reader.push(chunk)) {
        if (packet.kind === "delim") {
          expectName = true;
          continue;
        }
        if (packet.kind !== "data") {
          if (section !== "packfile" || !indexer)
            throw new GitError("the server's answer has no pack", "transient");
          // No byte is due any more: indexing a large pack must not count as a slow transfer.
          slow.stop();
          indexed = indexer.done();
          // Awaited once the response has ended; a failure meanwhile must not go unhandled.
          indexed.catch(() => {});
          break;
        }
        if (expectName) {
          // A name is short, so always whole (pkt-line.ts); a piece means this is no v2 answer.
          const name = packet.first && packet.last ? packet.payload.toString("utf8").trimEnd() : "";
          if (!SECTIONS.has(name)) {
            // A commit the server does not have is final, as git would find (one request less).
            if (section === undefined && /^ERR /.test(name) && classifyGitFailure(name) === "missing-ref")
              throw new GitError(`remote: ${name.slice(4)}`, "missing-ref", name);
            // Not a v2 answer (another error, or another protocol): git will say what it means.
            if (section === undefined) return "use-git";
            throw new GitError(
              `the server's answer has an unknown part ${JSON.stringify(name.slice(0, 80))}`,
              "transient",
            );
          }
          section = name;
          expectName = false;
          continue;
        }
        if (section !== "packfile") continue;
        if (packet.first) band = packet.payload[0];
        const data = packet.first ? packet.payload.subarray(1) : packet.payload;
        if (band === 1) {
          indexer ??= startIndexer(gitDir, run);
          await indexer.write(data);
        } else if (band === 3) {
          throw new GitError(`remote: ${data.toString("utf8").trim()}`, "transient");
        }
      }
    }
    if (indexed) {
      await indexed;
      return "fetched";
    }
    if (section === undefined) return "use-git";
    throw new GitError("the server's answer ended before its pack did", "transient");
  } catch (err) {
    indexer?.kill();
    body.destroy();
    const ours = ended();
    if (ours) throw ours.failure;
    if (err instanceof GitError) throw err;
    if (err instanceof PktLineError) {
      if (section === undefined) return "use-git";
      throw new GitError(`the server's answer is malformed: ${err.message}`, "transient");
    }
    throw new GitError(`the connection failed mid-answer: ${(err as Error).message}`, "transient");
  }
}

/**
 * curl's low-speed bound, which git fetch runs with (env.ts): less than one byte a second over the
 * inactivity bound fails the transfer, so a server trickling a byte now and then cannot hold it for ever.
 */
function lowSpeedWatch(seconds: number, stop: AbortController) {
  let bytes = 0;
  const timer = setInterval(() => {
    // No byte at all is silence, the socket timeout's to report (as silence, which the run acts on).
    if (bytes > 0 && bytes < seconds)
      stop.abort(
        new GitError(
          `less than 1 byte a second for ${seconds} s (the inactivity bound): too slow`,
          "transient",
        ),
      );
    bytes = 0;
  }, seconds * 1000);
  return {
    saw: (n: number) => {
      bytes += n;
    },
    stop: () => clearInterval(timer),
  };
}

type LowSpeedWatch = ReturnType<typeof lowSpeedWatch>;

interface Indexer {
  write(data: Buffer): Promise<void>;
  done(): Promise<void>;
  kill(): void;
}

/** `git index-pack --stdin` in its own process group: it checks every object and writes pack and index. */
function startIndexer(gitDir: string, run: GitRun): Indexer {
  // Without the stager's config: index-pack needs none of it, the tokens' headers included.
  const child = spawnGit(["--git-dir", gitDir, "index-pack", "--stdin"], userOnly(run), "pipe");
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString("utf8")).slice(-4096);
  });
  child.stdout?.resume();
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", (err) => reject(new GitError(`git index-pack: ${err.message}`, "transient")));
    child.on("close", (code, sig) => {
      if (code === 0) return resolve();
      const how = sig ? `was killed (${sig})` : `exited ${code}`;
      reject(new GitError(`git index-pack ${how}: ${stderr.trim()}`, "transient", stderr));
    });
  });
  exited.catch(() => {});
  const stdin = child.stdin;
  stdin?.on("error", () => {});
  return {
    write: async (data) => {
      if (!stdin || stdin.write(data)) return;
      // Held back while index-pack catches up: the pack never piles up in memory.
      await Promise.race([new Promise((r) => stdin.once("drain", r)), exited]);
    },
    done: async () => {
      stdin?.end();
      await exited;
    },
    kill: () => killGroup(child.pid),
  };
}
