/**
 * The parent side of a data-parallel training run: one worker process per device
 * (src/cli/train-worker.ts), progress and checkpoints relayed from rank 0, and a parameter digest from
 * every rank compared at fixed steps — the workers must hold identical parameters, or the run
 * stops. A crashed or hung worker stops the whole run (the pool names it); the last checkpoint
 * stays intact and `--resume` continues with the same or a different number of workers.
 */
import * as path from "node:path";
import type { BackendReport } from "../engine/backend.js";
import type { ProgressSink } from "../engine/progress.js";
import { RuntimeFailure } from "../errors.js";
import { PACKAGE_ROOT } from "../runs/version.js";
import type { WorkerDevice } from "./parallel/devices.js";
import { startWorkers } from "./parallel/pool.js";

/** What the parent tells each worker (JSON on its command line). */
export interface WorkerArgs {
  runDir: string;
  cwd?: string;
  backend: string;
  /** Where onnxruntime computes (engine.device as the parent resolved it). */
  device: "cuda" | "cpu";
  resume: boolean;
  stopAt?: number;
  digestEvery: number;
  timeoutMs: number;
}

export type WorkerMessage =
  | { kind: "backend"; report: BackendReport }
  | { kind: "progress"; step: number; loss: number | null }
  | { kind: "checkpoint"; step: number }
  | { kind: "digest"; step: number; digest: string }
  | { kind: "warn"; message: string };

export interface RunWorkersOptions {
  runDir: string;
  cwd?: string;
  backend: string;
  device: "cuda" | "cpu";
  workers: readonly WorkerDevice[];
  resume: boolean;
  stopAt?: number;
  steps: number;
  progress: ProgressSink;
  signal?: AbortSignal;
  onCheckpoint: (step: number) => void;
  onBackend: (report: BackendReport) => void;
  /** A worker silent this long is hung (default 10 minutes: a big first step on a GPU is slow). */
  timeoutMs?: number;
  digestEvery?: number;
}

/** The compiled worker entry (tests and the CLI both run the built dist/). */
export const WORKER_SCRIPT = path.join(PACKAGE_ROOT, "dist", "cli", "train-worker.js");

export async function runWorkers(o: RunWorkersOptions): Promise<{ step: number; interrupted: boolean }> {
  const timeoutMs = o.timeoutMs ?? Number(process.env.DIFFX_WORKER_TIMEOUT_MS ?? 600_000);
  const args: WorkerArgs = { runDir: o.runDir, cwd: o.cwd ?? process.cwd(), backend: o.backend, device: o.device, resume: o.resume, stopAt: o.stopAt, digestEvery: o.digestEvery ?? 10, timeoutMs };
  const digests = new Map<number, string[]>();
  let divergence: string | null = null;
  o.progress.start(`training on ${o.workers.length} workers`, o.stopAt ?? o.steps);
  const pool = startWorkers({
    script: WORKER_SCRIPT,
    args: [JSON.stringify(args)],
    workers: o.workers,
    timeoutMs,
    execArgv: [],
    signal: o.signal,
    onMessage: (rank, body) => {
      const m = body as WorkerMessage;
      switch (m.kind) {
        case "backend":
          o.onBackend(m.report);
          break;
        case "progress":
          o.progress.update(m.step, m.loss === null ? {} : { loss: m.loss });
          break;
        case "checkpoint":
          o.onCheckpoint(m.step);
          break;
        case "warn":
          if (rank === 0) o.progress.warn(m.message);
          break;
        case "digest": {
          const list = digests.get(m.step) ?? new Array<string>(o.workers.length).fill("");
          list[rank] = m.digest;
          digests.set(m.step, list);
          if (list.every((d) => d !== "") && new Set(list).size > 1 && divergence === null) {
            divergence = `workers hold different parameters at step ${m.step} (digests ${list.map((d, r) => `rank ${r}: ${d.slice(0, 12)}`).join(", ")})`;
            void pool.stopAll(divergence);
          }
          break;
        }
      }
    },
  });
  try {
    const results = (await pool.result) as { step: number; interrupted: boolean }[];
    if (divergence) throw new RuntimeFailure(divergence);
    return results[0];
  } catch (err) {
    if (divergence) throw new RuntimeFailure(divergence);
    throw err;
  } finally {
    o.progress.stop();
  }
}
