/**
 * Ctrl-C handling: the first SIGINT/SIGTERM/SIGHUP aborts the running job through an
 * AbortSignal (the job then writes a checkpoint or finishes its current file and returns); a
 * second one exits at once. SIGHUP (the terminal or SSH session closed) is a request to stop
 * like SIGTERM: by default it would kill the process outright, leaving the run's lock and the
 * status "running" behind. (Node resets SIGHUP to its default at start-up, so not even nohup
 * keeps a node process alive through a closed session: that takes tmux, screen or setsid.)
 */
import type { Reporter } from "./output.js";

const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

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
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  try {
    return await job(ctrl.signal);
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }
}
