/**
 * The stat fingerprints of a destination's staged trees (fingerprint.ts), each valid only for the digest it
 * was recorded with. They live in the user's cache, outside the destination: inode numbers and times differ
 * on every machine, and the destination is a Docker build context whose bytes must not.
 *
 * A fingerprint is recorded only for a tree whose digest was just established (written, or hashed in full
 * with the same fingerprint before and after), so the cache can be stale but never vouch for a wrong tree.
 * It is a cache: unreadable, unwritable or missing, every tree is hashed in full as before.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

type Entries = Record<string, { digest: string; stat: string }>;

export class Fingerprints {
  private loaded: { file: string | undefined; entries: Entries } | undefined;
  private readonly added: Entries = {};

  /**
   * The fingerprints of `dest`, kept under `cacheDir`; none at all when `cacheDir` is undefined. The file
   * is found on first use: a cold run's destination does not exist until the stager makes it.
   */
  constructor(
    private readonly dest: string,
    private readonly cacheDir: string | undefined,
  ) {}

  private get store(): { file: string | undefined; entries: Entries } {
    if (this.loaded) return this.loaded;
    let file: string | undefined;
    if (this.cacheDir !== undefined) {
      try {
        const id = createHash("sha256").update(realpathSync(this.dest)).digest("hex").slice(0, 32);
        file = join(this.cacheDir, "stage-fingerprints", `${id}.json`);
      } catch {
        // No destination (yet): nothing recorded for it.
      }
    }
    this.loaded = { file, entries: file ? readEntries(file) : {} };
    return this.loaded;
  }

  /** Whether `stat` is the fingerprint recorded for `key`'s tree at `digest`. */
  vouches(key: string, digest: string, stat: string): boolean {
    const known = this.added[key] ?? this.store.entries[key];
    return known !== undefined && known.digest === digest && known.stat === stat;
  }

  record(key: string, digest: string, stat: string): void {
    if (this.store.file) this.added[key] = { digest, stat };
  }

  /** Writes what this run recorded, merged over what is there now; a failure only costs a later run time. */
  save(): void {
    const { file } = this.store;
    if (!file || Object.keys(this.added).length === 0) return;
    try {
      mkdirSync(dirname(file), { recursive: true });
      const merged = { ...readEntries(file), ...this.added };
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ version: 1, entries: merged }));
      renameSync(tmp, file);
    } catch {
      // A read-only or full cache: the next run hashes the trees in full instead.
    }
  }
}

function readEntries(file: string): Entries {
  try {
    const doc = JSON.parse(readFileSync(file, "utf8")) as { version?: number; entries?: Entries };
    return doc.version === 1 && doc.entries && typeof doc.entries === "object" ? doc.entries : {};
  } catch {
    return {};
  }
}
