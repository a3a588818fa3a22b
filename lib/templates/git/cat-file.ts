/**
 * One long-lived `git cat-file --batch`: objects are asked for by id and answered in order, each body
 * handed on chunk by chunk as it arrives, so memory does not grow with object size. Requests may be
 * pipelined (many written before the first answer). Watched for inactivity only while an answer is due.
 */
import type { ChildProcess } from "node:child_process";
import { GitError } from "./failure";
import {
  DEFAULT_INACTIVITY_S,
  type GitRun,
  idleMessage,
  killGroup,
  spawnGit,
  type Watchdog,
  watchdog,
} from "./process";
import { type BlobSink, objectContent, objectType, streamBlobs } from "./requests";

/** Where an object's bytes go. */
export interface ObjectSink {
  data(chunk: Buffer): void;
  end(): void;
}

export interface Pending {
  oid: string;
  /** Only the header ("info", --batch-command): start() gets the type and size, and no body follows. */
  info?: boolean;
  /** Called with the object's type and size once its header arrives; returns where its bytes go. */
  start(type: string, size: number): ObjectSink;
  missing(): void;
  fail(err: Error): void;
}

/** `git cat-file --batch-command` is unknown to this git (before 2.36). */
export class BatchCommandUnsupported extends Error {}

export class CatFile {
  private readonly child: ChildProcess;
  private readonly queue: Pending[] = [];
  private readonly idle: Watchdog;
  private readonly seconds: number;
  private header = Buffer.alloc(0);
  /** The object whose bytes are arriving, and who asked for it (failed too if git dies mid-object). */
  private body: { remaining: number; pending: Pending; sink: ObjectSink } | undefined;
  private failed: Error | undefined;
  private stderr = "";
  private closing = false;

  private readonly buffered: boolean;
  private answered = false;
  /** Request lines not yet written: written together once per microtask (see request()). */
  private unwritten: string[] = [];

  /**
   * "command": `--batch-command --buffer` (git 2.36 and later), which answers both `info` (type and size
   * only) and `contents`, at each `flush`, so one process serves a whole entry. "batch": `--batch`,
   * contents only. "buffered": `--batch --buffer`, not flushed after each object, for a batch whose
   * requests are all known at once (stream): answers then come only as git's buffer fills and when its
   * input ends, so it serves exactly one stream() and nothing else.
   */
  constructor(
    gitDir: string,
    run: GitRun,
    private readonly mode: "command" | "batch" | "buffered",
  ) {
    this.seconds = run.inactivityS ?? DEFAULT_INACTIVITY_S;
    this.buffered = mode === "buffered";
    // Raw objects: no --textconv/--filters, so no attribute, eol rule or user config alters a byte.
    const how =
      mode === "command"
        ? ["--batch-command", "--buffer"]
        : mode === "batch"
          ? ["--batch"]
          : ["--batch", "--buffer"];
    this.child = spawnGit(["--git-dir", gitDir, "cat-file", ...how], run, "pipe");
    this.idle = watchdog(this.child, this.seconds);
    this.child.stdout?.on("data", (chunk: Buffer) => this.onData(chunk));
    this.child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-4096);
    });
    this.child.stdin?.on("error", () => {});
    this.child.on("error", (err) => this.fail(new GitError(`git cat-file: ${err.message}`, "transient")));
    this.child.on("close", (code, sig) => {
      this.idle.disarm();
      if (this.idle.fired)
        return this.fail(new GitError(idleMessage("git cat-file", this.seconds), "transient"));
      if (this.queue.length === 0 && !this.body) return;
      if (this.mode === "command" && code === 129 && !this.answered)
        return this.fail(new BatchCommandUnsupported(this.stderr.trim()));
      const how = sig ? `was killed (${sig})` : `exited ${code}`;
      this.fail(new GitError(`git cat-file ${how}: ${this.stderr.trim()}`, "transient", this.stderr));
    });
  }

  request(pending: Pending): void {
    if (this.failed || this.closing) {
      pending.fail(this.failed ?? new Error("cat-file closed"));
      return;
    }
    this.queue.push(pending);
    this.idle.arm();
    const line =
      this.mode === "command" ? `${pending.info ? "info" : "contents"} ${pending.oid}\n` : `${pending.oid}\n`;
    // One pipe write per batch of requests made in one go (a tree's subtrees, all of a tree's blobs), not
    // one per object: thousands of small writes cost more CPU than git's answers. In "command" mode the
    // batch ends in one flush, so git also writes its answers out in large pieces.
    if (this.unwritten.push(line) === 1) queueMicrotask(() => this.writeRequests());
  }

  private writeRequests(): void {
    const lines = this.unwritten;
    if (lines.length === 0) return;
    this.unwritten = [];
    if (this.failed || this.child.stdin?.writableEnded) return;
    if (this.mode === "command" && !this.closing) lines.push("flush\n");
    this.child.stdin?.write(lines.join(""));
  }

  /** The object's type, or undefined when absent; its content is not read ("command" mode only). */
  info(oid: string): Promise<string | undefined> {
    return objectType(oid, (pending) => this.request(pending));
  }

  /** No more requests: a buffered cat-file then writes out everything and exits. */
  private endInput(): void {
    this.closing = true;
    this.writeRequests();
    this.child.stdin?.end();
  }

  /** The object's type and whole content, or undefined when absent; larger than `max` is an error. */
  read(oid: string, max: number): Promise<{ type: string; data: Buffer } | undefined> {
    return objectContent(oid, max, (pending) => this.request(pending));
  }

  /** Each sink's blob into its file, pipelined; the first failure rejects (and later bytes are dropped). */
  stream(sinks: BlobSink[]): Promise<void> {
    if (sinks.length === 0) return Promise.resolve();
    const streamed = streamBlobs(sinks, (pending) => this.request(pending));
    if (this.buffered) this.endInput();
    return streamed;
  }

  /** Ends git (killed if an answer is still due: it may be mid-object) and resolves once it is gone. */
  close(): Promise<void> {
    this.closing = true;
    this.idle.disarm();
    const gone = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve();
      else this.child.once("close", () => resolve());
    });
    this.child.stdin?.end();
    if (this.queue.length > 0 || this.body) killGroup(this.child.pid);
    return gone;
  }

  private fail(err: Error): void {
    this.failed ??= err;
    const current = this.body?.pending;
    this.body = undefined;
    for (const p of [...(current ? [current] : []), ...this.queue.splice(0)]) p.fail(this.failed);
    killGroup(this.child.pid);
  }

  private onData(chunk: Buffer): void {
    this.idle.arm();
    let at = 0;
    while (at < chunk.length && !this.failed) {
      if (this.body) {
        const take = Math.min(this.body.remaining, chunk.length - at);
        // The body is followed by one LF, not part of the object.
        const content = Math.min(take, this.body.remaining - 1);
        if (content > 0) this.body.sink.data(chunk.subarray(at, at + content));
        this.body.remaining -= take;
        at += take;
        if (this.body.remaining === 0) {
          const { sink } = this.body;
          this.body = undefined;
          sink.end();
        }
        continue;
      }
      const eol = chunk.indexOf(0x0a, at);
      if (eol < 0) {
        this.header = Buffer.concat([this.header, chunk.subarray(at)]);
        if (this.header.length > 1024) this.fail(new GitError("git cat-file: malformed answer", "transient"));
        return;
      }
      const line =
        this.header.length > 0
          ? Buffer.concat([this.header, chunk.subarray(at, eol)]).toString("utf8")
          : chunk.toString("utf8", at, eol);
      if (this.header.length > 0) this.header = Buffer.alloc(0);
      at = eol + 1;
      const pending = this.queue.shift();
      if (!pending) {
        this.fail(new GitError(`git cat-file: unexpected answer ${line}`, "transient"));
        return;
      }
      const [oid = "", type = "", sizeText] = line.split(" ");
      if (sizeText === undefined) {
        this.answered = true;
        if (type === "missing") {
          pending.missing();
          continue;
        }
        this.fail(new GitError(`git cat-file: unexpected answer for ${oid} (${type})`, "transient"));
        return;
      }
      this.answered = true;
      const size = Number(sizeText);
      const sink = pending.start(type, size);
      if (pending.info) sink.end();
      else this.body = { remaining: size + 1, pending, sink };
    }
    if (this.queue.length === 0 && !this.body) this.idle.disarm();
  }
}
