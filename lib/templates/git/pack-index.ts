/**
 * A pack's index (`.idx`, version 2, SHA-1), as index-pack wrote it beside the pack it checked: where in
 * the pack each object starts, and where the next one does (so where its compressed bytes end).
 */
import { readFileSync } from "node:fs";

const MAGIC = 0xff744f63; // "\377tOc"
const FANOUT_AT = 8;
const IDS_AT = FANOUT_AT + 256 * 4;
const ID_BYTES = 20;

/** Not an index this reader knows (another version or hash, or cut short): read the objects with git. */
export class UnknownPackIndex extends Error {}

export class PackIndex {
  readonly count: number;
  private readonly offsetsAt: number;
  private readonly largeAt: number;
  private sorted: Float64Array | undefined;

  private constructor(private readonly idx: Buffer) {
    this.count = idx.readUInt32BE(FANOUT_AT + 255 * 4);
    this.offsetsAt = IDS_AT + this.count * (ID_BYTES + 4); // ids, then one CRC32 each
    this.largeAt = this.offsetsAt + this.count * 4;
    if (this.largeAt + 2 * ID_BYTES > idx.length) throw new UnknownPackIndex("pack index cut short");
  }

  static read(path: string): PackIndex {
    const idx = readFileSync(path);
    if (idx.length < IDS_AT || idx.readUInt32BE(0) !== MAGIC || idx.readUInt32BE(4) !== 2)
      throw new UnknownPackIndex(`${path}: not a version 2 pack index`);
    return new PackIndex(idx);
  }

  /** Where the object `id` (20 raw bytes) starts in the pack, or undefined if this pack lacks it. */
  offsetOf(id: Buffer): number | undefined {
    const first = id[0] ?? 0;
    let lo = first === 0 ? 0 : this.idx.readUInt32BE(FANOUT_AT + (first - 1) * 4);
    let hi = this.idx.readUInt32BE(FANOUT_AT + first * 4);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = IDS_AT + mid * ID_BYTES;
      const order = this.idx.compare(id, 0, ID_BYTES, at, at + ID_BYTES);
      if (order === 0) return this.offsetAt(mid);
      if (order > 0) hi = mid;
      else lo = mid + 1;
    }
    return undefined;
  }

  /** Where the object after the one at `offset` starts; `packEnd` (the trailer) after the last. */
  endOf(offset: number, packEnd: number): number {
    if (!this.sorted) {
      const all = new Float64Array(this.count);
      for (let i = 0; i < this.count; i++) all[i] = this.offsetAt(i);
      this.sorted = all.sort();
    }
    const sorted = this.sorted;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((sorted[mid] ?? 0) <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo < sorted.length ? (sorted[lo] ?? packEnd) : packEnd;
  }

  private offsetAt(i: number): number {
    const small = this.idx.readUInt32BE(this.offsetsAt + i * 4);
    if ((small & 0x80000000) === 0) return small;
    // Packs over 2 GiB: the high bit points into the table of 8-byte offsets.
    return Number(this.idx.readBigUInt64BE(this.largeAt + (small & 0x7fffffff) * 8));
  }
}
