/**
 * The worker side of the pool: what a worker script started by startWorkers() knows about
 * itself (rank, world, rendezvous folder, device, threads), how it talks to the parent (small
 * JSON messages over IPC), and the heartbeat that tells the parent's watchdog it is alive.
 *
 * A worker script is the entry of its own process, and like src/cli/main.ts it alone decides the
 * exit code: runWorker() calls the `exit` it is given when the work fails or the parent is gone.
 *
 *   runWorker(async (ctx) => {
 *     const group = await AllReduce.connect(ctx.rank, ctx.world, ctx.rendezvous, 60_000);
 *     try { … ctx.send({ step, loss }); … return summary; } finally { group.close(); }
 *   }, exitProcess); // the entry's own function that ends the process with a code
 */
import { DiffxError, RuntimeFailure } from "../../errors.js";
import { ownSlurmJob } from "../../runs/slurm-job.js";
import { PeerFailure } from "./link.js";
import { ENV, type WorkerToParent } from "./protocol.js";

export interface WorkerContext {
  readonly rank: number;
  readonly world: number;
  /** The folder where the all-reduce sockets meet (pass to AllReduce.connect). */
  readonly rendezvous: string;
  /** The GPU id this worker sees as its only GPU, or "cpu". */
  readonly device: string;
  /** CPU threads this worker may use. */
  readonly threads: number;
  /** Send a small JSON-able message to the parent's onMessage (progress, metrics…). */
  send(body: unknown): void;
  /** Report a failure to the parent (naming the peer when the error is a PeerFailure). */
  fail(err: unknown): Promise<void>;
  /** Hand the result to the parent and let this process exit (closes the IPC channel). */
  finish(result?: unknown): Promise<void>;
  /** Stop the heartbeat timer (finish/fail do it too). */
  stopHeartbeat(): void;
  /**
   * Opt in to a graceful stop: from now on the parent's SIGINT (pool.stopAll, Ctrl-C) aborts
   * this signal instead of killing the process. The worker should then finish its step and
   * return; the pool SIGKILLs it if it takes longer than the grace period. Ranks must agree on
   * the step where they stop (e.g. carry a stop flag through the gradient all-reduce).
   */
  stopSignal(): AbortSignal;
}

function envInt(name: string, min: number): number {
  const raw = process.env[name];
  const n = Number(raw);
  if (raw === undefined || raw === "" || !Number.isInteger(n) || n < min) {
    throw new RuntimeFailure(`this worker was not started by the diffx worker pool (${name}=${raw ?? "unset"})`);
  }
  return n;
}

function post(msg: WorkerToParent): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    try {
      process.send(msg, undefined, {}, () => resolve());
    } catch {
      resolve(); // the parent is gone; nothing to tell
    }
  });
}

let current: WorkerContext | null = null;
let stopController: AbortController | null = null;
let finishing = false;

/** Ends the worker process with a code (the entry script's process.exit). */
export type ExitProcess = (code: number) => void;

/** This worker's context (created once per process); starts the heartbeat timer. `exit(1)` ends an orphaned worker. */
export function workerContext(exit: ExitProcess): WorkerContext {
  if (current) return current;
  const rank = envInt(ENV.rank, 0);
  const world = envInt(ENV.world, 1);
  const rendezvous = process.env[ENV.rendezvous] ?? "";
  if (rendezvous === "") throw new RuntimeFailure(`this worker was not started by the diffx worker pool (${ENV.rendezvous} unset)`);
  const heartbeatMs = envInt(ENV.heartbeatMs, 1);
  if (!process.send) throw new RuntimeFailure("this worker has no IPC channel to its parent (start it with startWorkers)");

  void post({ diffx: "heartbeat" }); // ends the pool's start-up grace at once
  const timer = setInterval(() => void post({ diffx: "heartbeat" }), heartbeatMs);
  timer.unref();
  // the parent died or dropped us: an orphaned worker must not keep training on its own
  process.on("disconnect", () => {
    if (!finishing) exit(1);
  });
  // a closed terminal sends SIGHUP to the whole process group: the parent gets it too and stops
  // every worker cleanly (SIGINT), so a worker must not die of it first
  process.on("SIGHUP", () => {});
  // likewise inside a Slurm job: scancel and preemption send SIGTERM to every process of the
  // job; the parent gets it too and stops the workers cleanly at a step they agree on
  if (ownSlurmJob() !== null) process.on("SIGTERM", () => {});

  const ctx: WorkerContext = {
    rank,
    world,
    rendezvous,
    device: process.env[ENV.device] ?? "cpu",
    threads: envInt(ENV.threads, 1),
    send(body) {
      void post({ diffx: "message", body });
    },
    async fail(err) {
      clearInterval(timer);
      const message = err instanceof Error ? err.message : String(err);
      const msg: WorkerToParent = err instanceof PeerFailure && err.peer >= 0 ? { diffx: "error", message, peer: err.peer } : { diffx: "error", message };
      await post(msg);
    },
    async finish(result) {
      clearInterval(timer);
      finishing = true;
      await post({ diffx: "done", result: result ?? null });
      if (process.connected) process.disconnect();
    },
    stopHeartbeat() {
      clearInterval(timer);
    },
    stopSignal() {
      if (!stopController) {
        const ctrl = new AbortController();
        stopController = ctrl;
        process.on("SIGINT", () => ctrl.abort());
      }
      return stopController.signal;
    },
  };
  current = ctx;
  return ctx;
}

/**
 * Run a worker's main function: its return value (JSON-able) goes to the parent as the result;
 * an error is reported to the parent (its message; the stack too, on stderr, unless it is a
 * UsageError/RuntimeFailure) and `exit(1)` ends the process.
 */
export async function runWorker(main: (ctx: WorkerContext) => Promise<unknown>, exit: ExitProcess): Promise<void> {
  const ctx = workerContext(exit);
  let result: unknown;
  try {
    result = await main(ctx);
  } catch (err) {
    // a bug rather than a diffx error: keep its stack on stderr (the pool passes it to onOutput)
    if (!(err instanceof DiffxError) && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    await ctx.fail(err);
    exit(1);
    return;
  }
  await ctx.finish(result);
}
