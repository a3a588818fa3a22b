/**
 * git's delta format (a pack's OFS_DELTA and REF_DELTA objects): the sizes of base and result, then
 * instructions that copy a range of the base or insert new bytes. Pure; a delta that does not fit its
 * base is an error, never a silently different object.
 */

export class BadDelta extends Error {}

/** A little-endian base-128 number at `at`, and where it ends. */
function varint(delta: Buffer, at: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = delta[at++];
    if (byte === undefined) throw new BadDelta("delta header cut short");
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [value, at];
  }
}

/** The size of the object the delta makes (its header's second number), without applying it. */
export function deltaResultSize(delta: Buffer): number {
  const [, at] = varint(delta, 0);
  return varint(delta, at)[0];
}

export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let [baseSize, at] = varint(delta, 0);
  if (baseSize !== base.length)
    throw new BadDelta(`delta expects a ${baseSize}-byte base, got ${base.length}`);
  let size: number;
  [size, at] = varint(delta, at);
  const out = Buffer.allocUnsafe(size);
  let written = 0;
  while (at < delta.length) {
    const op = delta[at++] as number;
    if (op & 0x80) {
      // Copy: bits 0-3 say which offset bytes follow, bits 4-6 which size bytes; a size of 0 means 64 KiB.
      let offset = 0;
      let length = 0;
      for (let bit = 0; bit < 4; bit++) if (op & (1 << bit)) offset += (delta[at++] ?? 0) * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (op & (0x10 << bit)) length += (delta[at++] ?? 0) << (8 * bit);
      if (length === 0) length = 0x10000;
      if (at > delta.length) throw new BadDelta("delta copy instruction cut short");
      if (offset + length > base.length || written + length > size)
        throw new BadDelta("delta copies outside its base or past its result");
      base.copy(out, written, offset, offset + length);
      written += length;
    } else if (op !== 0) {
      if (at + op > delta.length || written + op > size) throw new BadDelta("delta inserts past its end");
      delta.copy(out, written, at, at + op);
      written += op;
      at += op;
    } else {
      throw new BadDelta("delta instruction 0 is reserved");
    }
  }
  if (written !== size) throw new BadDelta(`delta made ${written} bytes, its header says ${size}`);
  return out;
}
