/**
 * Build args may name the stack's facts about the commit being built, e.g. `GIT_SHA: "{commit}"`, so a
 * Dockerfile that stamps the commit gets the real one instead of its `dev` default. `{{` and `}}` are
 * literal braces. Any other `{name}` is a config error, never passed through as text.
 */
export interface CommitFacts {
  commit: string;
  /** Seconds since the epoch; undefined when the source checkout cannot say. */
  commitTime?: number;
}

export const FACTS = {
  commit: (f: CommitFacts) => f.commit,
  commitShort: (f: CommitFacts) => f.commit.slice(0, 7),
  commitTime: (f: CommitFacts) => (f.commitTime === undefined ? undefined : String(f.commitTime)),
} as const;

export type FactName = keyof typeof FACTS;

const TOKEN = /\{\{|\}\}|\{([^{}]*)\}|[{}]/g;

/** The placeholders a value names, and the problems with it (unknown names, a lone brace). */
export function placeholdersIn(value: string): { names: FactName[]; problems: string[] } {
  const names: FactName[] = [];
  const problems: string[] = [];
  for (const m of value.matchAll(TOKEN)) {
    if (m[0] === "{{" || m[0] === "}}") continue;
    const name = m[1];
    if (name === undefined) problems.push(`a lone "${m[0]}" (write "${m[0]}${m[0]}" for a literal brace)`);
    else if (name in FACTS) names.push(name as FactName);
    else
      problems.push(
        `unknown placeholder {${name}} (expected one of ${Object.keys(FACTS)
          .map((k) => `{${k}}`)
          .join(", ")})`,
      );
  }
  return { names, problems };
}

/** Fills a validated value; throws on a fact the stack does not have (the caller checks first). */
export function fillPlaceholders(value: string, facts: CommitFacts): string {
  return value.replace(TOKEN, (m, name: string | undefined) => {
    if (m === "{{") return "{";
    if (m === "}}") return "}";
    const fact = name === undefined ? undefined : FACTS[name as FactName]?.(facts);
    if (fact === undefined) throw new Error(`no value for ${m}`);
    return fact;
  });
}
