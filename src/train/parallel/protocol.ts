/**
 * The small control messages between the pool (parent) and its workers, sent as JSON over the
 * Node IPC channel. Tensors never travel here: they go through the all-reduce sockets.
 */

/** Environment variables the pool gives every worker. */
export const ENV = {
  rank: "DIFFX_RANK",
  world: "DIFFX_WORLD",
  rendezvous: "DIFFX_RENDEZVOUS",
  device: "DIFFX_DEVICE",
  threads: "DIFFX_THREADS",
  heartbeatMs: "DIFFX_HEARTBEAT_MS",
} as const;

export type WorkerToParent =
  /** "I am alive" (sent by a timer; any message counts as alive). */
  | { diffx: "heartbeat" }
  /** A message for the pool's onMessage (progress, metrics lines…). */
  | { diffx: "message"; body: unknown }
  /** The worker failed; `peer` is set when the cause is another rank (it went away or hung). */
  | { diffx: "error"; message: string; peer?: number }
  /** The worker finished; its result is handed back by the pool. */
  | { diffx: "done"; result: unknown };

export function isWorkerMessage(value: unknown): value is WorkerToParent {
  if (typeof value !== "object" || value === null) return false;
  const kind = (value as { diffx?: unknown }).diffx;
  if (kind === "heartbeat" || kind === "message" || kind === "done") return true;
  return kind === "error" && typeof (value as { message?: unknown }).message === "string";
}
