/** Everything bench:stage starts, so any ending (error, Ctrl-C) can take it all down. */
import type { ChildProcess } from "node:child_process";
import { removeDir } from "../../test/support/git-fixtures";
import type { GitHttpServer } from "../../test/support/git-http-server";
import type { RssSampler } from "../lib/rss";

export class Resources {
  readonly children = new Set<ChildProcess>();
  server: GitHttpServer | undefined;
  sampler: RssSampler | undefined;
  tmp: string | undefined;
  keep = false;
  private done: Promise<void> | undefined;

  cleanup(): Promise<void> {
    this.done ??= (async () => {
      for (const child of this.children) {
        // Each measured command leads its own process group: this reaches its git children too.
        if (child.pid && child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
      this.sampler?.close();
      await this.server?.close();
      if (this.tmp && !this.keep) await removeDir(this.tmp);
      else if (this.tmp) process.stderr.write(`bench: kept ${this.tmp}\n`);
    })();
    return this.done;
  }
}
