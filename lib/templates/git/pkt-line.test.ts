import { describe, expect, it } from "vitest";
import { PktLineError, PktLineReader, pktLine } from "./pkt-line";

const text = (packets: ReturnType<PktLineReader["push"]>) =>
  packets.map((p) => (p.kind === "data" ? p.payload.toString() : p.kind));

describe("pkt-line framing", () => {
  it("frames a line with its length, which counts the four digits", () => {
    expect(pktLine("command=fetch\n")).toBe("0012command=fetch\n");
    expect(pktLine("")).toBe("0004");
  });

  it("parses data, flush, delimiter and end, whatever the chunk boundaries", () => {
    const wire = Buffer.from(`${pktLine("packfile\n")}0001${pktLine("\u0001PACK")}00000002`);
    const whole = text(new PktLineReader().push(wire));
    expect(whole).toEqual(["packfile\n", "delim", "\u0001PACK", "flush", "end"]);
    for (let cut = 1; cut < wire.length; cut++) {
      const reader = new PktLineReader();
      const parts = [...reader.push(wire.subarray(0, cut)), ...reader.push(wire.subarray(cut))];
      expect(text(parts), `cut at ${cut}`).toEqual(whole);
      expect(reader.buffered).toBe(0);
    }
  });

  it("refuses what is not pkt-line: another protocol's bytes, length 3, an oversized length", () => {
    expect(() => new PktLineReader().push(Buffer.from("HTTP/1.1 200 OK"))).toThrow(PktLineError);
    expect(() => new PktLineReader().push(Buffer.from("0003"))).toThrow(/length 3/);
    expect(() => new PktLineReader().push(Buffer.from("fff5"))).toThrow(/more than git sends/);
  });
});
