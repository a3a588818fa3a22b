/**
 * The engine's own timing of one run, read from its verbose log (`-v=7 --logtostderr`: one JSON object a
 * line, with a nanosecond timestamp). The engine logs each language-host call and each provider call as it
 * starts and ends, which is enough to time plugin start, the images' Check and their Diff (where
 * docker-build hashes the build context) without a profiler.
 */

export interface EngineSpans {
  /** The CLI's first log line: the npm launcher and the CLI binary's own start are before it. */
  firstLog: number;
  /** The language host's Run: it spawns the Node process that runs the program. */
  runStart: number;
  runEnd: number;
  /** Per provider package: from its registration (Check) to its Diff, which is when its plugin is up. */
  pluginStart: Record<string, number>;
  /** Per image (resource name): docker-build's Check, and its Diff (the context hash and the comparison). */
  imageCheck: Record<string, number>;
  imageDiff: Record<string, number>;
}

interface Line {
  t: number;
  msg: string;
}

export function parseLogLines(text: string): Line[] {
  const lines: Line[] = [];
  for (const raw of text.split("\n")) {
    if (!raw.startsWith('{"time":')) continue;
    try {
      const { time, msg } = JSON.parse(raw) as { time: string; msg?: string };
      if (typeof msg === "string") lines.push({ t: Date.parse(time), msg });
    } catch {
      // a program's own output line that happens to look like JSON
    }
  }
  return lines;
}

/** Durations between a call's "executing" line and its end line, keyed by what `key` takes from the match. */
function callSpans(lines: Line[], start: RegExp, end: RegExp): Record<string, number> {
  const started = new Map<string, number>();
  const spans: Record<string, number> = {};
  for (const { t, msg } of lines) {
    const s = start.exec(msg)?.[1];
    if (s !== undefined && !started.has(s)) started.set(s, t);
    const e = end.exec(msg)?.[1];
    const from = e === undefined ? undefined : started.get(e);
    if (e !== undefined && from !== undefined && spans[e] === undefined) spans[e] = t - from;
  }
  return spans;
}

const need = (t: number | undefined, what: string): number => {
  if (t === undefined) throw new Error(`engine log: no ${what} line (was the run made with -v=7?)`);
  return t;
};

export function engineSpans(text: string): EngineSpans {
  const lines = parseLogLines(text);
  const find = (re: RegExp) => lines.find((l) => re.test(l.msg))?.t;
  return {
    firstLog: need(lines[0]?.t, "first"),
    runStart: need(find(/^langhost\[nodejs\]\.Run\(.*\) executing/), "langhost Run"),
    runEnd: need(find(/^langhost\[nodejs\]\.Run\(.*\) success/), "langhost Run success"),
    pluginStart: callSpans(
      lines,
      /^ProviderRegistry\.Check\(urn:\S*::pulumi:providers:([\w-]+)::\S+\) executing/,
      /^ProviderRegistry\.Diff\(urn:\S*::pulumi:providers:([\w-]+)::/,
    ),
    imageCheck: callSpans(
      lines,
      /^Provider\[\w+\]\.Check\(urn:\S*docker-build:index:Image::([\w-]+)\) executing/,
      /^Provider\[\w+\]\.Check\(urn:\S*docker-build:index:Image::([\w-]+)\) success/,
    ),
    imageDiff: callSpans(
      lines,
      /^Provider\[\w+\]\.Diff\(urn:\S*docker-build:index:Image::([\w-]+),[^)]*\):? executing/,
      /^Provider\[\w+\]\.Diff\(urn:\S*docker-build:index:Image::([\w-]+),\S+\) success/,
    ),
  };
}
