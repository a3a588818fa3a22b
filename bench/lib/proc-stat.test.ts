import { describe, expect, it } from "vitest";
import { parseMachineCpu, parseProcStat } from "./proc-stat";

// Fields 1-17 of a real /proc/<pid>/stat line, the rest cut: pid (comm) state ppid ... utime stime cutime cstime.
const stat = (comm: string) => `4242 (${comm}) S 1 4242 4242 0 -1 4194560 900 0 0 0 17 5 30 7 20 0 1 0`;

describe("parseProcStat", () => {
  it("reads comm and the four CPU fields (14-17)", () => {
    expect(parseProcStat(stat("git"))).toEqual({ comm: "git", utime: 17, stime: 5, cutime: 30, cstime: 7 });
  });
  it("counts fields from the last ')', so a name with spaces or ') ' does not shift them", () => {
    expect(parseProcStat(stat("a) b (c"))).toEqual({
      comm: "a) b (c",
      utime: 17,
      stime: 5,
      cutime: 30,
      cstime: 7,
    });
  });
  it("is all zeros for an empty read (the process exited meanwhile)", () => {
    expect(parseProcStat("")).toEqual({ comm: "", utime: 0, stime: 0, cutime: 0, cstime: 0 });
  });
});

describe("parseMachineCpu", () => {
  it("sums user, nice, system, irq and softirq as busy; idle and iowait are not busy", () => {
    const text = "cpu  100 20 30 5000 400 6 7 8 0 0\ncpu0 50 10 15 2500 200 3 3 4 0 0\n";
    expect(parseMachineCpu(text)).toEqual({ busy: 100 + 20 + 30 + 6 + 7, steal: 8 });
  });
});
