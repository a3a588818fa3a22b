import { describe, expect, it } from "vitest";
import { applyDelta, BadDelta, deltaResultSize } from "./delta";

/** A delta: base size, result size (each base-128), then the instructions' bytes. */
const delta = (baseSize: number, size: number, ...ops: number[]) =>
  Buffer.from([...varint(baseSize), ...varint(size), ...ops]);
function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

describe("applyDelta (git's pack delta format)", () => {
  const base = Buffer.from("hello, world");

  it("copies ranges of the base and inserts new bytes, in order", () => {
    // copy offset 7 size 5 ("world"), insert ", ", copy offset 0 size 5 ("hello")
    const d = delta(12, 12, 0x91, 7, 5, 2, 0x2c, 0x20, 0x90, 5);
    expect(applyDelta(base, d).toString()).toBe("world, hello");
    expect(deltaResultSize(d)).toBe(12);
  });

  it("reads multi-byte offsets and sizes, and a copy size of 0 as 64 KiB", () => {
    const big = Buffer.alloc(0x10000 + 300, 7);
    big.write("mark", 0x10004);
    // offset 0x10004 from bytes 0 and 2 only (flags 0x01, 0x04), size 4 from byte 0 (flag 0x10)
    expect(applyDelta(big, delta(big.length, 4, 0x80 | 0x01 | 0x04 | 0x10, 0x04, 0x01, 4)).toString()).toBe(
      "mark",
    );
    // no size bytes: 0x10000 bytes from offset 0
    const whole = applyDelta(big, delta(big.length, 0x10000, 0x80));
    expect(whole.length).toBe(0x10000);
    expect(whole.equals(big.subarray(0, 0x10000))).toBe(true);
  });

  it("refuses a delta that does not fit its base or its own header", () => {
    expect(() => applyDelta(base, delta(11, 5, 0x90, 5))).toThrow(BadDelta); // wrong base size
    expect(() => applyDelta(base, delta(12, 5, 0x91, 10, 5))).toThrow(/outside its base/); // past the base
    expect(() => applyDelta(base, delta(12, 6, 0x90, 5))).toThrow(/made 5 bytes, its header says 6/);
    expect(() => applyDelta(base, delta(12, 2, 5, 1, 2))).toThrow(/inserts past/);
    expect(() => applyDelta(base, delta(12, 1, 0))).toThrow(/reserved/);
    expect(() => applyDelta(base, delta(12, 5, 0x91, 0))).toThrow(/cut short/);
    expect(() => applyDelta(base, Buffer.from([0x8c]))).toThrow(/header cut short/);
  });
});
