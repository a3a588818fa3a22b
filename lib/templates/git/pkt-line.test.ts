import { describe, expect, it } from "vitest";
import { type Packet, PktLineError, PktLineReader, pktLine, WHOLE_MAX } from "./pkt-line";

/** The packets as text, pieces joined back into their packets. */
function text(packets: Packet[]): string[] {
  const out: string[] = [];
  let open: string | undefined;
  for (const p of packets) {
    if (p.kind !== "data") {
      out.push(p.kind);
      continue;
    }
    open = (p.first ? "" : (open ?? "<no first piece>")) + p.payload.toString("latin1");
    if (p.last) {
      out.push(open);
      open = undefined;
    }
  }
  return out;
}

const frame = (payload: string) => `${(payload.length + 4).toString(16).padStart(4, "0")}${payload}`;

describe("pkt-line framing", () => {
  it("frames a line with its length, which counts the four digits", () => {
    expect(pktLine("command=fetch\n")).toBe("0012command=fetch\n");
    expect(pktLine("")).toBe("0004");
  });

  it("parses data, flush, delimiter and end, whatever the chunk boundaries", () => {
    const big = `\u0001${"p".repeat(3000)}`;
    const wire = Buffer.from(
      `${pktLine("packfile\n")}0001${frame(big)}${pktLine("\u0002done\n")}00000002`,
      "latin1",
    );
    const whole = text(new PktLineReader().push(wire));
    expect(whole).toEqual(["packfile\n", "delim", big, "\u0002done\n", "flush", "end"]);
    for (let cut = 1; cut < wire.length; cut++) {
      const reader = new PktLineReader();
      const parts = [...reader.push(wire.subarray(0, cut)), ...reader.push(wire.subarray(cut))];
      expect(text(parts), `cut at ${cut}`).toEqual(whole);
      expect(reader.midPacket).toBe(false);
    }
  });

  it("hands a large packet on in the pieces it arrives in, uncopied; a small one always whole", () => {
    const big = Buffer.from(frame(`\u0001${"x".repeat(4000)}`), "latin1");
    const reader = new PktLineReader();
    const first = reader.push(big.subarray(0, 1000));
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ kind: "data", first: true, last: false });
    // The same memory as the chunk: nothing was copied.
    expect((first[0] as { payload: Buffer }).payload.buffer).toBe(big.buffer);
    expect(reader.midPacket).toBe(true);
    const rest = reader.push(big.subarray(1000));
    expect(rest).toEqual([{ kind: "data", payload: big.subarray(1000), first: false, last: true }]);

    const small = Buffer.from(frame("x".repeat(WHOLE_MAX - 4)), "latin1");
    const halves = new PktLineReader();
    expect(halves.push(small.subarray(0, 10))).toEqual([]);
    expect(text(halves.push(small.subarray(10)))).toEqual(["x".repeat(WHOLE_MAX - 4)]);
  });

  it("a large packet whose length ends a chunk starts with the next chunk's first byte", () => {
    const big = Buffer.from(frame(`\u0001${"y".repeat(2000)}`), "latin1");
    const reader = new PktLineReader();
    expect(reader.push(big.subarray(0, 4))).toEqual([]);
    const next = reader.push(big.subarray(4));
    expect(next[0]).toMatchObject({ first: true, last: true });
    expect((next[0] as { payload: Buffer }).payload[0]).toBe(1);
  });

  it("refuses what is not pkt-line: another protocol's bytes, length 3, an oversized length", () => {
    expect(() => new PktLineReader().push(Buffer.from("HTTP/1.1 200 OK"))).toThrow(PktLineError);
    expect(() => new PktLineReader().push(Buffer.from("0003"))).toThrow(/length 3/);
    expect(() => new PktLineReader().push(Buffer.from("fff5"))).toThrow(/more than git sends/);
  });
});
