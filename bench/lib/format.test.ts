import { describe, expect, it } from "vitest";
import { fmtBytes, fmtMiB, fmtMs, fmtSeconds, MiB } from "./format";

describe("fmtMs", () => {
  it("rounds to whole milliseconds below a second", () => {
    expect(fmtMs(0)).toBe("0 ms");
    expect(fmtMs(12.6)).toBe("13 ms");
    expect(fmtMs(999.4)).toBe("999 ms");
  });
  it("switches to seconds with two decimals from one second on", () => {
    expect(fmtMs(1000)).toBe("1.00 s");
    expect(fmtMs(21_224)).toBe("21.22 s");
  });
});

describe("fmtSeconds", () => {
  it("is always seconds, even below one", () => {
    expect(fmtSeconds(850)).toBe("0.85 s");
    expect(fmtSeconds(95_000)).toBe("95.00 s");
  });
});

describe("fmtBytes", () => {
  it("picks the largest unit the size reaches", () => {
    expect(fmtBytes(0)).toBe("0 B");
    expect(fmtBytes(1023)).toBe("1023 B");
    expect(fmtBytes(1024)).toBe("1.0 KiB");
    expect(fmtBytes(MiB - 1)).toBe("1024.0 KiB");
    expect(fmtBytes(10 * MiB)).toBe("10.0 MiB");
    expect(fmtBytes(78.24 * MiB)).toBe("78.2 MiB");
  });
});

describe("fmtMiB", () => {
  it("rounds to whole MiB", () => {
    expect(fmtMiB(200 * MiB)).toBe("200 MiB");
    expect(fmtMiB(1.6 * MiB)).toBe("2 MiB");
    expect(fmtMiB(0)).toBe("0 MiB");
  });
});
