import { describe, expect, it } from "vitest";
import { engineSpans, parseLogLines } from "./engine-log";

const at = (ms: number) => new Date(Date.UTC(2026, 11, 2, 6, 0, 0, ms)).toISOString().replace("Z", "123456Z");
const line = (ms: number, msg: string) => JSON.stringify({ time: at(ms), level: "INFO", msg, v: 7 });
const URN = "urn:pulumi:s::molecule-images::molecule:index:PlatformImage$docker-build:index:Image";
const P = "urn:pulumi:s::molecule-images::pulumi:providers";

const LOG = [
  line(0, "OTLP receiver started on port 1"),
  "plain program output",
  line(100, "langhost[nodejs].Run(pwd=/x,dryrun=true) executing"),
  line(200, `ProviderRegistry.Check(${P}:pulumi-nodejs::default) executing (#olds=1,#news=1)`),
  line(2200, `ProviderRegistry.Diff(${P}:pulumi-nodejs::default,abc): executing (#oldInputs=1)`),
  line(2300, `ProviderRegistry.Check(${P}:docker-build::default_0_0_22) executing (#olds=5,#news=2)`),
  line(2600, `ProviderRegistry.Diff(${P}:docker-build::default_0_0_22,def): executing (#oldInputs=5)`),
  line(2610, `Provider[0x1].Check(${URN}::platform-image) executing (#olds=17,#news=12)`),
  line(2616, `Provider[0x1].Check(${URN}::platform-image) success: inputs=#17 failures=#0`),
  line(2617, `Provider[0x1].Diff(${URN}::platform-image,sha256:aa): executing (#oldInputs=17)`),
  line(2660, `Provider[0x1].Diff(${URN}::platform-image,sha256:aa) success: changes=1 #replaces=[]`),
  line(2700, `Provider[0x1].Diff(${URN}::platform-agent-image,sha256:bb): executing (#oldInputs=17)`),
  line(2720, `Provider[0x1].Diff(${URN}::platform-agent-image,sha256:bb) success: changes=1`),
  line(3000, "langhost[nodejs].Run(pwd=/x,dryrun=true) success: progerr=, bail=false"),
].join("\n");

describe("engineSpans", () => {
  it("times the language host's run, each plugin's start and each image's Check and Diff", () => {
    const s = engineSpans(LOG);
    expect(s.runEnd - s.runStart).toBe(2900);
    expect(s.runStart - s.firstLog).toBe(100);
    expect(s.pluginStart).toEqual({ "pulumi-nodejs": 2000, "docker-build": 300 });
    expect(s.imageCheck).toEqual({ "platform-image": 6 });
    expect(s.imageDiff).toEqual({ "platform-image": 43, "platform-agent-image": 20 });
  });

  it("fails, naming the line, on a log without the verbose lines", () => {
    expect(() => engineSpans(line(0, "hello"))).toThrow(/no langhost Run line/);
  });

  it("skips lines that are not the engine's JSON", () => {
    expect(parseLogLines(`x\n{"time": broken\n${line(5, "m")}`)).toHaveLength(1);
  });
});
