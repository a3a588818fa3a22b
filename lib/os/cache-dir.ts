/**
 * The project's per-user cache (`MOLECULE_IMAGES_CACHE`, else `$XDG_CACHE_HOME/molecule-images`, else
 * `~/.cache/molecule-images`): what can be rebuilt but is slow to rebuild, outside any checkout or build
 * context.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.MOLECULE_IMAGES_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "molecule-images")
  );
}
