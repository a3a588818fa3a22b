/** Ctrl-C or a SIGTERM must not leave a bench's servers, registries or temp dirs behind. */

/** Runs `cleanup` and exits 130 (SIGINT) or 143 (SIGTERM) on either signal; returns what removes the handler. */
export function cleanUpOnSignal(cleanup: () => Promise<void>): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
