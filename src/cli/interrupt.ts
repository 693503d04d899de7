/**
 * Ctrl-C handling: the first SIGINT/SIGTERM aborts the running job through an AbortSignal (the
 * job then writes a checkpoint or finishes its current file and returns); a second one exits
 * at once.
 */
import type { Reporter } from "./output.js";

export async function withInterrupt<T>(rep: Reporter, job: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctrl = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ctrl.signal.aborted) {
      process.stderr.write(`\ndiffx: ${sig} again: stopping now\n`);
      process.exit(130);
    }
    rep.warn(`${sig} received: finishing the current step and saving (press Ctrl-C again to stop at once)`);
    ctrl.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return await job(ctrl.signal);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
