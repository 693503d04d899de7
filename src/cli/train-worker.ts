/**
 * Entry of one data-parallel training worker (a child process started by src/train/run-workers.ts).
 * Like main.ts for the main process, this entry alone decides the process's exit code.
 * It starts its own backend with its share of the CPU, opens its onnxruntime sessions on the CPU
 * or on the one GPU CUDA_VISIBLE_DEVICES shows it (CUDA ordinal 0), reads the run folder the parent prepared, joins the all-reduce group and runs the
 * same training loop as a single process, on its shard of every global batch. Rank 0 alone
 * writes checkpoints and metrics.
 */
import * as path from "node:path";
import { loadConfig } from "../config/load.js";
import { initBackend, type BackendName } from "../engine/backend.js";
import type { ProgressSink } from "../engine/progress.js";
import { RUN_FILES } from "../runs/folder.js";
import { onnxDevice } from "../export/cuda-provider.js";
import { latestCheckpoint } from "../train/checkpoint.js";
import { AllReduce } from "../train/parallel/allreduce.js";
import { paramsDigest } from "../train/parallel/digest.js";
import { runWorker } from "../train/parallel/worker.js";
import { prepareTrainingData } from "../train/run.js";
import { trainLoop } from "../train/trainer.js";
import type { WorkerArgs, WorkerMessage } from "../train/run-workers.js";

void runWorker(async (ctx) => {
  const args = JSON.parse(process.argv[2] ?? "{}") as WorkerArgs;
  const send = (m: WorkerMessage): void => ctx.send(m);
  const backend = await initBackend(args.backend as BackendName, { threads: ctx.threads });
  if (ctx.rank === 0) send({ kind: "backend", report: backend });
  const { config } = loadConfig(path.join(args.runDir, RUN_FILES.config));
  // the parent verified the dataset and wrote split.json / tokenizer.json before starting us
  const { data, heldOut, tokenizer } = await prepareTrainingData(args.runDir, config, { cwd: args.cwd, verify: false });
  // twice the watchdog's timeout: the pool then names the hung worker, not a peer waiting for it
  const group = await AllReduce.connect(ctx.rank, ctx.world, ctx.rendezvous, 2 * args.timeoutMs);
  const progress: ProgressSink = {
    start: () => {},
    stop: () => {},
    info: () => {},
    warn: (message) => send({ kind: "warn", message }),
    update: (done, fields) => {
      if (ctx.rank === 0) send({ kind: "progress", step: done, loss: typeof fields?.loss === "number" ? fields.loss : null });
    },
  };
  try {
    const result = await trainLoop({
      runDir: args.runDir,
      config,
      data,
      heldOut,
      tokenizer,
      resumeFrom: args.resume ? latestCheckpoint(args.runDir) : null,
      reducer: { rank: ctx.rank, world: ctx.world, average: (buf) => group.average(buf) },
      progress,
      signal: ctx.stopSignal(),
      threads: ctx.threads,
      device: onnxDevice(args.device),
      stopAt: args.stopAt,
      digestEvery: args.digestEvery,
      onDigest: (step, buffers) => send({ kind: "digest", step, digest: paramsDigest(buffers) }),
      onCheckpoint: (step) => send({ kind: "checkpoint", step }),
    });
    return { step: result.step, interrupted: result.interrupted };
  } finally {
    group.close();
  }
}, (code) => process.exit(code));
