/**
 * Run as `node --expose-gc --import tsx drift-gc-probe.ts <host:port>`: one OCI request against a registry
 * that never answers, with the garbage collector running every 10 ms. Node 20 can collect a timeout signal
 * held only by AbortSignal.any(), and the request then never ends; the probe prints how it ended.
 */
import { OciBackend } from "../../lib/drift/oci";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const pressure = setInterval(gc, 10);
const started = Date.now();
new OciBackend(process.argv[2] ?? "", {
  dockerConfigPath: "/nonexistent",
  timeoutMs: 300,
  attempts: 2,
  retryBaseMs: 10,
})
  .list("")
  .then(
    () => console.log("answered"),
    (err: Error) => console.log(`failed after ${Date.now() - started} ms: ${err.message}`),
  )
  .finally(() => clearInterval(pressure));
