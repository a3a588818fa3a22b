import { describe, expect, it } from "vitest";
import { fsTypeName, osPrettyName } from "./machine";

describe("fsTypeName", () => {
  it("names the usual file systems by their statfs magic", () => {
    expect(fsTypeName(0xef53)).toBe("ext2/3/4");
    expect(fsTypeName(0x01021994)).toBe("tmpfs");
    expect(fsTypeName(0x794c7630)).toBe("overlayfs");
  });
  it("gives any other magic in hex", () => {
    expect(fsTypeName(0x6969)).toBe("fs type 0x6969");
  });
});

describe("osPrettyName", () => {
  it("reads PRETTY_NAME, quoted or not", () => {
    expect(osPrettyName('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe(
      "Debian GNU/Linux 12 (bookworm)",
    );
    expect(osPrettyName("PRETTY_NAME=Alpine\n")).toBe("Alpine");
  });
  it("is undefined without one", () => {
    expect(osPrettyName('NAME="Debian"\n')).toBeUndefined();
  });
});
