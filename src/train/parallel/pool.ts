/**
 * The parent side of data-parallel training: one child process per device (child_process.fork),
 * each with its own environment (CUDA_VISIBLE_DEVICES, DIFFX_RANK, DIFFX_WORLD,
 * DIFFX_RENDEZVOUS, …), small JSON control messages over the IPC channel, and a watchdog.
 *
 * Any worker that crashes (exit code or signal), hangs (silent past the timeout: the worker
 * helper sends heartbeats from a timer, so a blocked or frozen process goes silent) or reports
 * an error ends the whole pool: every other worker is stopped, and only when no child is left
 * does `result` reject, with a RuntimeFailure naming the worker's rank and device.
 *
 * When one worker dies, its peers see their sockets close and report that too; the pool waits
 * `settleMs` after the first failure and blames the worker whose failure was not caused by a
 * peer (a crash, a hang, or an error of its own), so the message names the culprit.
 *
 * Workers run in their own process group, so a terminal's Ctrl-C reaches only the parent, which
 * calls stopAll() (or aborts the `signal` it passed): SIGINT to every worker, SIGKILL after the
 * grace period. A worker script may catch that SIGINT (workerContext().stopSignal()) to finish
 * its step and return; if every worker then finishes cleanly, `result` resolves as usual.
 */
import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RuntimeFailure } from "../../errors.js";
import type { WorkerDevice } from "./devices.js";
import { childInOwnGroup } from "../../runs/slurm-job.js";
import { formatSeconds } from "./link.js";
import { ENV, isWorkerMessage } from "./protocol.js";

export interface StartWorkersOptions {
  /** The worker's entry file, run with node (a .js file; a .ts one needs `--import tsx` in execArgv). */
  script: string;
  args?: string[];
  /** From resolveDevices(): one process per entry, rank = its index. */
  workers: readonly WorkerDevice[];
  /** A worker silent for this long counts as hung. */
  timeoutMs: number;
  /**
   * Silence allowed before a worker's first message (loading tfjs, CUDA start-up take a while;
   * default: the larger of timeoutMs and 60 s).
   */
  startupMs?: number;
  /** Every `send(body)` of a worker arrives here. */
  onMessage?: (rank: number, body: unknown) => void;
  /** A worker's stdout/stderr text (library code prints nothing; the CLI decides). */
  onOutput?: (rank: number, stream: "stdout" | "stderr", text: string) => void;
  /** Node flags for the children (default: this process's execArgv). */
  execArgv?: string[];
  /** Base environment (default: process.env); each worker's own env goes on top. */
  env?: NodeJS.ProcessEnv;
  /** How long stopped workers get after SIGINT/SIGTERM before SIGKILL (default 5 s). */
  graceMs?: number;
  /** How long after the first failure other reports are collected to find its cause (default 500 ms). */
  settleMs?: number;
  /** The all-reduce rendezvous folder (default: a fresh temp folder, removed at the end). */
  rendezvousDir?: string;
  /** Aborting it calls stopAll("interrupted") (wire the CLI's Ctrl-C here). */
  signal?: AbortSignal;
}

export interface WorkerPool {
  /** Each worker's `finish(result)` value, by rank, once all have exited cleanly. */
  readonly result: Promise<unknown[]>;
  readonly pids: readonly number[];
  readonly rendezvousDir: string;
  /**
   * Stop every worker (Ctrl-C): SIGINT now, SIGKILL to any still alive after the grace period.
   * Resolves when no child is left. `result` then rejects with a RuntimeFailure saying `reason`,
   * unless every worker caught the SIGINT and finished cleanly (sent its result, exit code 0).
   */
  stopAll(reason?: string): Promise<void>;
}

type FailureKind = "crash" | "hang" | "error" | "peer";

interface Failure {
  kind: FailureKind;
  rank: number;
  message: string;
}

interface WorkerState {
  spec: WorkerDevice;
  child: ChildProcess;
  lastHeard: number;
  heardAny: boolean;
  exited: boolean;
  exitCode: number | null;
  done: boolean;
  result: unknown;
  reportedError: boolean;
  stderrTail: string;
  exitWaiters: (() => void)[];
}

const STDERR_TAIL_CHARS = 4000;

/** "rank 2 (GPU 5)" / "rank 1 (CPU)". */
export function describeWorker(w: Pick<WorkerDevice, "rank" | "device">): string {
  return `rank ${w.rank} (${w.device === "cpu" ? "CPU" : `GPU ${w.device}`})`;
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  return lines.length > 0 ? lines[lines.length - 1] : "";
}

export function startWorkers(opts: StartWorkersOptions): WorkerPool {
  const world = opts.workers.length;
  if (world < 1) throw new RuntimeFailure("startWorkers: no workers to start");
  if (!(opts.timeoutMs > 0)) throw new RuntimeFailure(`startWorkers: timeoutMs must be positive, got ${opts.timeoutMs}`);
  const graceMs = opts.graceMs ?? 5000;
  const settleMs = opts.settleMs ?? 500;
  const heartbeatMs = Math.max(50, Math.floor(opts.timeoutMs / 5));
  const startupMs = opts.startupMs ?? Math.max(opts.timeoutMs, 60_000);
  const baseEnv = opts.env ?? process.env;

  const failures: Failure[] = [];
  let stopReason: string | null = null;
  let ending = false;
  let settleTimer: NodeJS.Timeout | null = null;
  let resolveResult!: (v: unknown[]) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<unknown[]>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  // callers may attach their handler late (or only await stopAll); never an unhandled rejection
  result.catch(() => {});

  opts.workers.forEach((spec, index) => {
    if (spec.rank !== index) throw new RuntimeFailure(`startWorkers: worker ${index} has rank ${spec.rank}; ranks must be 0…${world - 1} in order`);
  });
  if (!fs.existsSync(opts.script)) throw new RuntimeFailure(`startWorkers: the worker script ${opts.script} does not exist`);
  const ownDir = opts.rendezvousDir === undefined;
  const rendezvousDir = opts.rendezvousDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "diffx-rdv-"));

  const states: WorkerState[] = opts.workers.map((spec) => {
    const env: NodeJS.ProcessEnv = {
      ...baseEnv,
      ...spec.env,
      [ENV.rank]: String(spec.rank),
      [ENV.world]: String(world),
      [ENV.rendezvous]: rendezvousDir,
      [ENV.device]: spec.device,
      [ENV.threads]: String(spec.threads),
      [ENV.heartbeatMs]: String(heartbeatMs),
    };
    const child = fork(opts.script, opts.args ?? [], {
      env,
      execArgv: opts.execArgv ?? process.execArgv,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      detached: childInOwnGroup(), // not inside a Slurm job: it would lose track of the worker
      serialization: "json",
    });
    return { spec, child, lastHeard: Date.now(), heardAny: false, exited: false, exitCode: null, done: false, result: undefined, reportedError: false, stderrTail: "", exitWaiters: [] };
  });

  const fail = (f: Failure): void => {
    if (ending && stopReason === null && settleTimer === null) return; // already concluding
    failures.push(f);
    if (ending) return;
    ending = true;
    settleTimer = setTimeout(conclude, settleMs);
  };

  for (const w of states) {
    const { child, spec } = w;
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    child.stdout?.on("data", (text: string) => opts.onOutput?.(spec.rank, "stdout", text));
    child.stderr?.on("data", (text: string) => {
      w.stderrTail = (w.stderrTail + text).slice(-STDERR_TAIL_CHARS);
      opts.onOutput?.(spec.rank, "stderr", text);
    });
    child.on("message", (msg: unknown) => {
      w.lastHeard = Date.now();
      w.heardAny = true;
      if (!isWorkerMessage(msg)) return;
      switch (msg.diffx) {
        case "heartbeat":
          return;
        case "message":
          if (!ending) opts.onMessage?.(spec.rank, msg.body);
          return;
        case "done":
          w.done = true;
          w.result = msg.result;
          return;
        case "error":
          w.reportedError = true;
          fail({ kind: msg.peer === undefined ? "error" : "peer", rank: spec.rank, message: `worker ${describeWorker(spec)} failed: ${msg.message}` });
          return;
      }
    });
    child.on("error", (err: Error) => {
      // spawning failed (or a signal could not be sent): the exit event may never come
      fail({ kind: "crash", rank: spec.rank, message: `worker ${describeWorker(spec)} could not be started or signalled: ${err.message}` });
      if (child.pid === undefined) markExited(w);
    });
    // "close" comes after "exit" once stdout/stderr are drained, so the stderr tail is complete
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      const wasEnding = ending;
      w.exitCode = code;
      markExited(w);
      if (code === 0 && w.done) {
        if (!ending && states.every((s) => s.exited && s.done)) finishSuccess();
        return;
      }
      if (wasEnding && stopReason !== null) return; // we stopped it
      if (w.reportedError) return; // its own report says why
      const how = signal ? `was killed by signal ${signal}` : code === 0 ? "exited before it finished (code 0, no result)" : `crashed (exit code ${code})`;
      const tail = lastLine(w.stderrTail);
      fail({ kind: "crash", rank: spec.rank, message: `worker ${describeWorker(spec)} ${how}${tail ? `; its last error output: ${tail}` : ""}` });
    });
  }

  function markExited(w: WorkerState): void {
    if (w.exited) return;
    w.exited = true;
    for (const wake of w.exitWaiters.splice(0)) wake();
  }

  const watchdog = setInterval(
    () => {
      if (ending) return;
      const now = Date.now();
      for (const w of states) {
        const limit = w.heardAny ? opts.timeoutMs : startupMs;
        if (w.exited || now - w.lastHeard <= limit) continue;
        const what = w.done ? "finished but did not exit" : w.heardAny ? "is hung" : "hung while starting";
        fail({ kind: "hang", rank: w.spec.rank, message: `worker ${describeWorker(w.spec)} sent nothing for ${formatSeconds(now - w.lastHeard)} (timeout ${formatSeconds(limit)}): it ${what}` });
        return;
      }
    },
    Math.max(20, Math.min(1000, Math.floor(opts.timeoutMs / 4))),
  );

  function waitExit(w: WorkerState): Promise<void> {
    if (w.exited) return Promise.resolve();
    return new Promise((resolve) => w.exitWaiters.push(resolve));
  }

  /** Signal every live child, SIGKILL after the grace period; resolves when none is left. */
  async function killAll(signal: NodeJS.Signals): Promise<void> {
    const live = states.filter((w) => !w.exited);
    for (const w of live) signalWorker(w, signal);
    const killer = setTimeout(() => {
      for (const w of states) if (!w.exited) signalWorker(w, "SIGKILL");
    }, graceMs);
    await Promise.all(states.map(waitExit));
    clearTimeout(killer);
  }

  function signalWorker(w: WorkerState, signal: NodeJS.Signals): void {
    try {
      w.child.kill(signal);
    } catch {
      // already gone
    }
  }

  function cleanup(): void {
    clearInterval(watchdog);
    if (settleTimer) clearTimeout(settleTimer);
    settleTimer = null;
    if (ownDir) fs.rmSync(rendezvousDir, { recursive: true, force: true });
  }

  function finishSuccess(): void {
    ending = true;
    cleanup();
    resolveResult(states.map((s) => s.result));
  }

  /** The failure to report: the first one not caused by a peer, else the first. */
  function culprit(): Failure {
    const order: FailureKind[] = ["crash", "hang", "error"];
    for (const f of failures) if (order.includes(f.kind)) return f;
    return failures[0];
  }

  let concluding: Promise<void> | null = null;
  function conclude(): Promise<void> {
    concluding ??= (async () => {
      settleTimer = null;
      const stopping = stopReason;
      await killAll(stopping !== null ? "SIGINT" : "SIGTERM");
      cleanup();
      if (stopping === null) rejectResult(new RuntimeFailure(culprit().message));
      else if (states.every((s) => s.done && s.exitCode === 0)) resolveResult(states.map((s) => s.result));
      else rejectResult(new RuntimeFailure(`${stopping}: stopped all ${world} worker${world === 1 ? "" : "s"}`));
    })();
    return concluding;
  }

  function stopAll(reason = "interrupted"): Promise<void> {
    if (concluding) return concluding;
    if (states.every((s) => s.exited)) return Promise.resolve();
    stopReason = reason;
    ending = true;
    if (settleTimer) clearTimeout(settleTimer);
    return conclude();
  }

  if (opts.signal) {
    const onAbort = (): void => void stopAll("interrupted");
    if (opts.signal.aborted) onAbort();
    else {
      opts.signal.addEventListener("abort", onAbort, { once: true });
      void result.finally(() => opts.signal?.removeEventListener("abort", onAbort)).catch(() => {});
    }
  }

  return { result, pids: states.map((s) => s.child.pid ?? -1), rendezvousDir, stopAll };
}
