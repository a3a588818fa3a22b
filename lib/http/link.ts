/**
 * The rel="next" target of an RFC 8288 Link header: how registries page catalogs and tag lists, and forges
 * page comments. Without `base`, the target as sent; with it, resolved against the page's URL. Which
 * origins may be followed is the caller's to judge: each sends credentials with its requests.
 */
export function nextLink(header: string | null): string | undefined;
export function nextLink(header: string | null, base: URL): URL | undefined;
export function nextLink(header: string | null, base?: URL): string | URL | undefined {
  if (!header) return undefined;
  // Links are split where a new `<` starts, so a quoted parameter may hold a comma.
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>((?:\s*;\s*[^;]+)*)/.exec(part.trim());
    if (!m) continue;
    const rel = /;\s*rel\s*=\s*"?([^";]*)"?/i.exec(m[2] ?? "");
    if (!rel?.[1]?.split(/\s+/).includes("next")) continue;
    const target = m[1] ?? "";
    return base ? new URL(target, base) : target;
  }
  return undefined;
}
