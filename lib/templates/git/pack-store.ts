/**
 * The fetched objects read straight from the packs git fetched them into, in this process: no `git
 * cat-file` per entry, which was one fork of this (large) process and half of staging's git processes.
 * index-pack has already checked every object against its id; each object read here is hashed again, so a
 * misread can only ever fail loudly, never stage different bytes.
 *
 * Memory stays bounded whatever a blob's size: a whole (undeltified) blob over STREAM_BYTES is inflated
 * in pieces straight into its file, and a deltified one too large to rebuild in memory is handed to a
 * `git cat-file` (which builds it in git's memory, as before).
 */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, existsSync, fstatSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createInflate, inflateSync } from "node:zlib";
import { TreeError } from "../tree";
import { applyDelta, BadDelta, deltaResultSize } from "./delta";
import { PackIndex, UnknownPackIndex } from "./pack-index";
import { type BlobSink, writeFully } from "./requests";

const TYPES = ["", "commit", "tree", "blob", "tag"] as const;
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** git refuses delta chains deeper than 4095 (pack.depth); deeper here means a cycle in a broken pack. */
const MAX_CHAIN = 4096;
/** Packs up to this size are read with one read; larger ones object by object. */
const WHOLE_PACK_BYTES = 4 * 1024 * 1024;
/** A whole blob larger than this is streamed into its file, not inflated in one piece. */
export const STREAM_BYTES = 1024 * 1024;
/** Deltified objects (and their bases) are rebuilt in memory up to this size; larger go to git. */
export const DELTA_IN_MEMORY_BYTES = 32 * 1024 * 1024;
/** Rebuilt objects kept for the deltas based on them: trees and small files are delta chains. */
const CACHE_BYTES = 8 * 1024 * 1024;

/** Where a pack's objects failed to read: names the pack and the object. */
export class PackReadError extends Error {
  override name = "PackReadError";
}

/** Too large to rebuild in memory: read by git instead. */
class TooLarge extends Error {
  constructor(readonly size: number) {
    super(`${size} bytes`);
  }
}

interface Pack {
  path: string;
  fd: number;
  index: PackIndex;
  /** Where the trailer (the pack's checksum) starts. */
  end: number;
  whole: Buffer | undefined;
}

interface Located {
  pack: Pack;
  offset: number;
}

interface Header {
  /** 1-4 (commit, tree, blob, tag), or a delta. */
  kind: number;
  /** The inflated size of what follows the header: the object, or the delta. */
  size: number;
  dataAt: number;
  base?: Located | string;
}

/** What reads the blobs too large to rebuild here: a buffered `git cat-file --batch`. */
export interface BlobStreamer {
  stream(sinks: BlobSink[]): Promise<void>;
  close(): Promise<void>;
}

/** An object located: where, its own header, and its type (a delta's is its chain's base's). */
interface Found {
  at: Located;
  head: Header;
  type: string;
}

interface Loaded {
  type: string;
  data: Buffer;
}

/** The reader needs only the packs: loose objects or alternates mean something else wrote here. */
function packsOf(gitDir: string): string[] | undefined {
  const objects = join(gitDir, "objects");
  for (const name of readdirSync(objects)) if (name !== "pack" && name !== "info") return undefined;
  if (existsSync(join(objects, "info", "alternates"))) return undefined;
  const packDir = join(objects, "pack");
  const names = readdirSync(packDir).filter((n) => n.endsWith(".idx"));
  if (names.length === 0) return undefined;
  return names.map((n) => join(packDir, n.slice(0, -".idx".length)));
}

export class PackStore {
  /** Rebuilt objects by pack and offset (see CACHE_BYTES), oldest first. */
  private readonly cache = new Map<Pack, Map<number, Loaded>>();
  /** Each id asked for: where it is and its type, found once (the walk asks, then writeBlobs again). */
  private readonly found = new Map<string, Found | undefined>();
  private cached = 0;
  private fallback: BlobStreamer | undefined;

  private constructor(
    private readonly packs: Pack[],
    private readonly git: () => BlobStreamer,
    private readonly inMemoryBytes: number,
  ) {}

  /**
   * The store over `gitDir`'s packs, or undefined when some object may live elsewhere (loose objects,
   * alternates) or an index is of a kind this reader does not know: the caller then reads with git.
   * `git` starts the cat-file that reads blobs too large to rebuild here.
   */
  static open(
    gitDir: string,
    git: () => BlobStreamer,
    inMemoryBytes = DELTA_IN_MEMORY_BYTES,
  ): PackStore | undefined {
    const bases = packsOf(gitDir);
    if (!bases) return undefined;
    const packs: Pack[] = [];
    try {
      for (const base of bases) {
        const index = PackIndex.read(`${base}.idx`);
        const fd = openSync(`${base}.pack`, "r");
        const size = fstatSync(fd).size;
        const pack: Pack = { path: `${base}.pack`, fd, index, end: size - 20, whole: undefined };
        packs.push(pack);
        if (size <= WHOLE_PACK_BYTES) pack.whole = bytesAt(pack, 0, size);
      }
    } catch (err) {
      for (const p of packs) closeSync(p.fd);
      if (err instanceof UnknownPackIndex) return undefined;
      throw err;
    }
    return new PackStore(packs, git, inMemoryBytes);
  }

  /** The object's type and whole content, or undefined when absent; larger than `max` is an error. */
  async read(oid: string, max: number): Promise<Loaded | undefined> {
    const found = this.find(oid);
    if (!found) return undefined;
    try {
      return this.checked(oid, this.load(found.at, 0, max));
    } catch (err) {
      if (!(err instanceof TooLarge)) throw err;
      throw new TreeError(`object ${oid} (${found.type}) is ${err.size} bytes, more than ${max} allowed`);
    }
  }

  /** The object's type, or undefined when absent; nothing is inflated. */
  async info(oid: string): Promise<string | undefined> {
    return this.find(oid)?.type;
  }

  /** Each sink's blob into its file; the first failure rejects (its file is closed, the rest not opened). */
  async writeBlobs(sinks: BlobSink[]): Promise<void> {
    const toGit: BlobSink[] = [];
    for (const sink of sinks) {
      const found = this.find(sink.oid);
      if (!found) throw new TreeError(`blob ${sink.oid} is not among the fetched objects`);
      if (found.type !== "blob") throw new TreeError(`${sink.oid} is a ${found.type}, not a blob`);
      const { at, head } = found;
      if (head.kind === 3 && head.size > STREAM_BYTES) {
        await streamWhole(at, head, sink);
        continue;
      }
      let blob: Loaded;
      try {
        blob = this.checked(sink.oid, this.load(at, 0, this.inMemoryBytes));
      } catch (err) {
        if (!(err instanceof TooLarge)) throw err;
        toGit.push(sink);
        continue;
      }
      writeBlob(sink, blob.data);
    }
    if (toGit.length === 0) return;
    this.fallback ??= this.git();
    await this.fallback.stream(toGit);
  }

  async close(): Promise<void> {
    for (const p of this.packs.splice(0)) closeSync(p.fd);
    this.cache.clear();
    await this.fallback?.close();
  }

  /** Where `oid` is and what type it has, or undefined when no pack has it. */
  private find(oid: string): Found | undefined {
    if (this.found.has(oid)) return this.found.get(oid);
    const at = this.locate(oid);
    const head = at && header(at);
    const found = at && head && { at, head, type: this.typeOf(at, head) };
    this.found.set(oid, found);
    return found;
  }

  private locate(oid: string): Located | undefined {
    if (oid.length !== 40 || !/^[0-9a-f]{40}$/.test(oid)) return undefined;
    const id = Buffer.from(oid, "hex");
    for (const pack of this.packs) {
      const offset = pack.index.offsetOf(id);
      if (offset !== undefined) return { pack, offset };
    }
    return undefined;
  }

  /** The delta's base, wherever it is (a REF_DELTA names it by id). */
  private baseOf(at: Located, head: Header): Located {
    if (typeof head.base === "string") {
      const base = this.locate(head.base);
      if (!base) throw new PackReadError(`${at.pack.path}: delta base ${head.base} is not in any pack`);
      return base;
    }
    if (!head.base) throw new PackReadError(`${at.pack.path}: object at ${at.offset} has no base`);
    return head.base;
  }

  private typeOf(at: Located, own: Header): string {
    let head = own;
    for (let depth = 0; head.kind >= OFS_DELTA; depth++) {
      if (depth > MAX_CHAIN) throw new PackReadError(`${at.pack.path}: delta chain at ${at.offset} loops`);
      head = header(this.baseOf(at, head));
    }
    return TYPES[head.kind] ?? "unknown";
  }

  private load(at: Located, depth: number, limit: number): Loaded {
    const hit = this.cache.get(at.pack)?.get(at.offset);
    if (hit) return hit;
    if (depth > MAX_CHAIN) throw new PackReadError(`${at.pack.path}: delta chain at ${at.offset} loops`);
    const head = header(at);
    if (head.kind < OFS_DELTA && head.size > limit) throw new TooLarge(head.size);
    let loaded: Loaded;
    if (head.kind < OFS_DELTA) {
      loaded = { type: TYPES[head.kind] ?? "unknown", data: inflateAt(at, head) };
    } else {
      const delta = inflateAt(at, head);
      const size = deltaResultSize(delta);
      if (size > limit) throw new TooLarge(size);
      const base = this.load(this.baseOf(at, head), depth + 1, limit);
      try {
        loaded = { type: base.type, data: applyDelta(base.data, delta) };
      } catch (err) {
        if (!(err instanceof BadDelta)) throw err;
        throw new PackReadError(`${at.pack.path}: object at ${at.offset}: ${err.message}`);
      }
    }
    this.remember(at, loaded);
    return loaded;
  }

  private remember(at: Located, loaded: Loaded): void {
    if (loaded.data.length > CACHE_BYTES / 8) return;
    const inPack = this.cache.get(at.pack) ?? new Map<number, Loaded>();
    this.cache.set(at.pack, inPack);
    inPack.set(at.offset, loaded);
    this.cached += loaded.data.length;
    // Oldest first, pack by pack: a chain's bases were rebuilt just before what is built on them.
    for (const objects of this.cache.values())
      for (const [offset, value] of objects) {
        if (this.cached <= CACHE_BYTES) return;
        objects.delete(offset);
        this.cached -= value.data.length;
      }
  }

  /** The object, once its bytes are proven to be the ones its id names. */
  private checked(oid: string, loaded: Loaded): Loaded {
    const hash = createHash("sha1").update(`${loaded.type} ${loaded.data.length}\0`).update(loaded.data);
    if (hash.digest("hex") !== oid)
      throw new PackReadError(`object ${oid} read from its pack does not hash to its id`);
    return loaded;
  }
}

function bytesAt(pack: Pack, at: number, length: number): Buffer {
  if (pack.whole) return pack.whole.subarray(at, at + length);
  const out = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(pack.fd, out, got, length - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return out.subarray(0, got);
}

/** The object header at `at`: type and size (base-128, 4 bits first), then a delta's base. */
function header(at: Located): Header {
  const bytes = bytesAt(at.pack, at.offset, 32);
  let i = 0;
  let byte = bytes[i++] ?? 0;
  const kind = (byte >> 4) & 7;
  let size = byte & 15;
  for (let shift = 4; byte & 0x80; shift += 7) {
    byte = bytes[i++] ?? 0;
    size += (byte & 0x7f) * 2 ** shift;
  }
  if (kind === OFS_DELTA) {
    // A distance back to the base, in git's own base-128 (each continuation adds one).
    byte = bytes[i++] ?? 0;
    let back = byte & 0x7f;
    while (byte & 0x80) {
      byte = bytes[i++] ?? 0;
      back = (back + 1) * 128 + (byte & 0x7f);
    }
    return { kind, size, dataAt: at.offset + i, base: { pack: at.pack, offset: at.offset - back } };
  }
  if (kind === REF_DELTA)
    return { kind, size, dataAt: at.offset + i + 20, base: bytes.toString("hex", i, i + 20) };
  if (kind < 1 || kind > 4) throw new PackReadError(`${at.pack.path}: no object at ${at.offset}`);
  return { kind, size, dataAt: at.offset + i };
}

function inflateAt(at: Located, head: Header): Buffer {
  const end = at.pack.index.endOf(at.offset, at.pack.end);
  // An output buffer of the known size: the default (16 KiB, allocated per call) cost more than inflating.
  const data = inflateSync(bytesAt(at.pack, head.dataAt, end - head.dataAt), {
    chunkSize: Math.max(64, head.size + 64),
  });
  if (data.length !== head.size)
    throw new PackReadError(
      `${at.pack.path}: object at ${at.offset} inflates to ${data.length} bytes, not ${head.size}`,
    );
  return data;
}

/** Writes a blob held in memory into its sink's file. */
function writeBlob(sink: BlobSink, data: Buffer): void {
  const fd = sink.open();
  try {
    writeFully(fd, data);
    sink.written?.(data);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  sink.close(fd);
}

/** Inflates a whole blob from its pack straight into its sink's file, piece by piece, hashing as it goes. */
async function streamWhole(at: Located, head: Header, sink: BlobSink): Promise<void> {
  const end = at.pack.index.endOf(at.offset, at.pack.end);
  const hash = createHash("sha1").update(`blob ${head.size}\0`);
  let size = 0;
  const fd = sink.open();
  try {
    await pipeline(
      createReadStream(at.pack.path, { start: head.dataAt, end: end - 1, highWaterMark: 1024 * 1024 }),
      createInflate(),
      async (chunks: AsyncIterable<Buffer>) => {
        for await (const chunk of chunks) {
          size += chunk.length;
          if (size > head.size)
            throw new PackReadError(`blob ${sink.oid} is longer in its pack than its header says`);
          writeFully(fd, chunk);
          sink.written?.(chunk);
          hash.update(chunk);
        }
      },
    );
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (size !== head.size || hash.digest("hex") !== sink.oid) {
    closeSync(fd);
    throw new PackReadError(`blob ${sink.oid} read from its pack does not hash to its id`);
  }
  sink.close(fd);
}
