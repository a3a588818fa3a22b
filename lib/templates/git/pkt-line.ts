/**
 * git's pkt-line framing (gitprotocol-common): a 4-hex-digit length that counts itself, then the payload;
 * 0000 is a flush, 0001 a delimiter, 0002 the end of a response. Parsed as bytes arrive, so a pack of any
 * size streams through without being held whole.
 */

export type Packet =
  | { kind: "data"; payload: Buffer }
  | { kind: "flush" }
  | { kind: "delim" }
  | { kind: "end" };

/** The largest packet git sends or accepts (LARGE_PACKET_MAX). */
const MAX_PACKET = 65520;

export class PktLineError extends Error {}

/** One request line, framed. */
export function pktLine(text: string): string {
  const length = Buffer.byteLength(text) + 4;
  if (length > MAX_PACKET) throw new PktLineError("pkt-line too long");
  return length.toString(16).padStart(4, "0") + text;
}

export class PktLineReader {
  private pending: Buffer = Buffer.alloc(0);

  /** The packets completed by `chunk`; a packet cut by the chunk's end waits for the next one. */
  push(chunk: Buffer): Packet[] {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const packets: Packet[] = [];
    let at = 0;
    while (data.length - at >= 4) {
      const hex = data.toString("latin1", at, at + 4);
      if (!/^[0-9a-f]{4}$/.test(hex)) throw new PktLineError(`not a pkt-line: ${JSON.stringify(hex)}`);
      const length = Number.parseInt(hex, 16);
      if (length === 3) throw new PktLineError("pkt-line length 3 is invalid");
      if (length < 4) {
        packets.push({ kind: length === 0 ? "flush" : length === 1 ? "delim" : "end" });
        at += 4;
        continue;
      }
      if (length > MAX_PACKET) throw new PktLineError(`pkt-line of ${length} bytes, more than git sends`);
      if (data.length - at < length) break;
      packets.push({ kind: "data", payload: data.subarray(at + 4, at + length) });
      at += length;
    }
    this.pending = data.subarray(at);
    return packets;
  }

  /** Bytes of a packet begun but not finished. */
  get buffered(): number {
    return this.pending.length;
  }
}
