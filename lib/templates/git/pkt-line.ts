/**
 * git's pkt-line framing (gitprotocol-common): a 4-hex-digit length that counts itself, then the payload;
 * 0000 is a flush, 0001 a delimiter, 0002 the end of a response. Parsed as bytes arrive, without copying
 * them: a large packet (a pack's sideband data) is handed on in the pieces it arrives in, so a pack of any
 * size streams through and no byte of it is copied on the way.
 */

/**
 * A data packet whole (`first` and `last`), or a piece of one. Packets up to WHOLE_MAX bytes always come
 * whole: section names, error and progress lines can be read as text.
 */
export type Packet =
  | { kind: "data"; payload: Buffer; first: boolean; last: boolean }
  | { kind: "flush" }
  | { kind: "delim" }
  | { kind: "end" };

/** The largest packet git sends or accepts (LARGE_PACKET_MAX). */
const MAX_PACKET = 65520;
/** Packets up to this length are gathered whole when they arrive split. */
export const WHOLE_MAX = 1024;

export class PktLineError extends Error {}

/** One request line, framed. */
export function pktLine(text: string): string {
  const length = Buffer.byteLength(text) + 4;
  if (length > MAX_PACKET) throw new PktLineError("pkt-line too long");
  return length.toString(16).padStart(4, "0") + text;
}

export class PktLineReader {
  /** The length digits read so far, when they arrived split. */
  private digits = "";
  /** A small packet being gathered: its bytes and how many have arrived. */
  private gathering: { payload: Buffer; got: number } | undefined;
  /** Bytes still to come of a large packet being handed on in pieces. */
  private left = 0;
  /** No piece of that packet has been handed on yet (its length ended a chunk). */
  private unstarted = false;

  /** The packets (and pieces) `chunk` completes or carries. */
  push(chunk: Buffer): Packet[] {
    const packets: Packet[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.left > 0) {
        const take = Math.min(this.left, chunk.length - at);
        this.left -= take;
        const first = this.unstarted;
        this.unstarted = false;
        packets.push({ kind: "data", payload: chunk.subarray(at, at + take), first, last: this.left === 0 });
        at += take;
        continue;
      }
      if (this.gathering) {
        const g = this.gathering;
        const take = Math.min(g.payload.length - g.got, chunk.length - at);
        chunk.copy(g.payload, g.got, at, at + take);
        g.got += take;
        at += take;
        if (g.got === g.payload.length) {
          this.gathering = undefined;
          packets.push({ kind: "data", payload: g.payload, first: true, last: true });
        }
        continue;
      }
      const digits = 4 - this.digits.length;
      this.digits += chunk.toString("latin1", at, Math.min(chunk.length, at + digits));
      at = Math.min(chunk.length, at + digits);
      if (this.digits.length < 4) break;
      const hex = this.digits;
      this.digits = "";
      if (!/^[0-9a-f]{4}$/.test(hex)) throw new PktLineError(`not a pkt-line: ${JSON.stringify(hex)}`);
      const length = Number.parseInt(hex, 16);
      if (length === 3) throw new PktLineError("pkt-line length 3 is invalid");
      if (length < 4) {
        packets.push({ kind: length === 0 ? "flush" : length === 1 ? "delim" : "end" });
        continue;
      }
      if (length > MAX_PACKET) throw new PktLineError(`pkt-line of ${length} bytes, more than git sends`);
      const size = length - 4;
      const here = Math.min(size, chunk.length - at);
      if (here === size) {
        packets.push({ kind: "data", payload: chunk.subarray(at, at + size), first: true, last: true });
      } else if (length <= WHOLE_MAX) {
        this.gathering = { payload: Buffer.alloc(size), got: here };
        chunk.copy(this.gathering.payload, 0, at, at + here);
      } else {
        this.left = size - here;
        this.unstarted = here === 0;
        if (here > 0)
          packets.push({ kind: "data", payload: chunk.subarray(at, at + here), first: true, last: false });
      }
      at += here;
    }
    return packets;
  }

  /** Whether a packet (or its length) has begun and not ended. */
  get midPacket(): boolean {
    return this.digits.length > 0 || this.gathering !== undefined || this.left > 0;
  }
}
