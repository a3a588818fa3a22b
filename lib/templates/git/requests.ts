/**
 * What the stager asks `git cat-file` for, each as the request its answer goes to: an object's type, a small
 * object's whole content, or blobs streamed straight into the files their sinks open, chunk by chunk (no
 * blob is ever held in memory whole, whatever its size, and git is held back while a chunk goes to disk).
 */
import { closeSync, writeSync } from "node:fs";
import { TreeError } from "../tree";
import type { Pending } from "./cat-file";

/** Where one blob's bytes go: `open` is called when they start to arrive, `close` after the last. */
export interface BlobSink {
  oid: string;
  open(): number;
  /** Sees each chunk once it is written to the file (the tree hashes what it wrote, not re-reading it). */
  written?(chunk: Buffer): void;
  close(fd: number): void;
}

const ignored = { data: () => {}, end: () => {} };

/** All of `chunk` into `fd`: writeSync may write less than asked. */
export function writeFully(fd: number, chunk: Uint8Array): void {
  for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
}

type Request = (pending: Pending) => void;

/** The object's type, or undefined when absent; its content is not read ("command" mode only). */
export function objectType(oid: string, request: Request): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    request({
      oid,
      info: true,
      missing: () => resolve(undefined),
      fail: reject,
      start: (type) => {
        resolve(type);
        return ignored;
      },
    });
  });
}

/** The object's type and whole content, or undefined when absent; larger than `max` is an error. */
export function objectContent(
  oid: string,
  max: number,
  request: Request,
): Promise<{ type: string; data: Buffer } | undefined> {
  return new Promise((resolve, reject) => {
    request({
      oid,
      missing: () => resolve(undefined),
      fail: reject,
      start: (type, size) => {
        const parts: Buffer[] = [];
        const tooBig = size > max;
        return {
          data: (chunk) => {
            if (!tooBig) parts.push(chunk);
          },
          end: () =>
            tooBig
              ? reject(new TreeError(`object ${oid} (${type}) is ${size} bytes, more than ${max} allowed`))
              : resolve({ type, data: Buffer.concat(parts, size) }),
        };
      },
    });
  });
}

/**
 * Asks `request` for each sink's blob, pipelined; resolves once every file is closed, and rejects at the
 * first failure (later bytes are dropped).
 */
export function streamBlobs(sinks: BlobSink[], request: Request): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = sinks.length;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const isFailed = () => failed;
    const ended = () => {
      if (--left === 0 && !failed) resolve();
    };
    for (const sink of sinks) request(blobRequest(sink, fail, isFailed, ended));
  });
}

/** One sink's request: opens its file when the blob's header arrives, writes each chunk, closes at the end. */
function blobRequest(
  sink: BlobSink,
  fail: (err: unknown) => void,
  failed: () => boolean,
  ended: () => void,
): Pending {
  let fd: number | undefined;
  return {
    oid: sink.oid,
    missing: () => fail(new TreeError(`blob ${sink.oid} is not among the fetched objects`)),
    fail: (err) => {
      // git died mid-blob: the file it was writing is abandoned with the rest of the tree.
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      fail(err);
    },
    start: (type) => {
      if (failed() || type !== "blob") {
        if (type !== "blob") fail(new TreeError(`${sink.oid} is a ${type}, not a blob`));
        return ignored;
      }
      try {
        fd = sink.open();
      } catch (err) {
        fail(err);
      }
      return {
        data: (chunk) => {
          if (fd === undefined || failed()) return;
          try {
            // Synchronous: the pipe is not read again until the chunk is on disk, so git is held
            // back instead of its output piling up here.
            writeFully(fd, chunk);
            sink.written?.(chunk);
          } catch (err) {
            fail(err);
          }
        },
        end: () => {
          if (fd !== undefined) {
            const done = fd;
            fd = undefined;
            try {
              sink.close(done);
            } catch (err) {
              fail(err);
            }
          }
          ended();
        },
      };
    },
  };
}
