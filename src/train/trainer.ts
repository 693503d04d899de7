/**
 * The training loop (nanoGPT-style: one file that reads top to bottom).
 *
 * One step: take the next global batch (seeded data order), compute this worker's shard of it
 * (per-sample noise, timestep, dropout, flip from (seed, step, sample)), back-propagate the
 * diffusion loss, average gradients across workers (identity with one worker), clip by global
 * norm, apply AdamW, update the EMA. Every `checkpoint_every` steps and at the end rank 0 writes
 * an atomic checkpoint; a resumed run continues bit-identically on CPU backends.
 *
 * The state (parameters, EMA, Adam moments) lives on the host as Float32Arrays and the update
 * runs there in plain loops (optimizer.ts). Loss and gradients come from one of two engines
 * (`engine.gradients`): onnxruntime-node (onnx-gradients.ts; the default, on the CPU or CUDA as
 * engine.device chose) or tfjs (`tf.variableGrads`, when asked for). The tfjs variables only
 * mirror the host parameters, refreshed when tfjs needs them: before every tfjs gradient step
 * and before the logging evaluations (VLB term and perceptual loss, every `eval_every` steps).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Config, ModelConfig } from "../config/schema.js";
import { RuntimeFailure } from "../errors.js";
import type { ProgressSink } from "../engine/progress.js";
import { makeSchedule, type NoiseSchedule } from "../diffusion/schedule.js";
import { diffusionLoss, objectiveConfig } from "../diffusion/objective.js";
import { vlbOnBatch } from "../diffusion/vlb.js";
import { forward } from "../model/model.js";
import type { ParamMap } from "../model/params.js";
import { modelParamSpecs } from "../model/model.js";
import { Tokenizer } from "../model/tokenizer.js";
import { TfjsOps, paramVariables, paramTensors, disposeTensors } from "../nn/tfjs-ops.js";
import { withLora } from "../nn/lora.js";
import { initParams } from "../model/params.js";
import { checkAdapterBase, setupAdapter } from "./adapter.js";
import { Rng } from "../engine/rng.js";
import { Adam, ADAM_DEFAULTS, globalNorm, updateEma } from "./optimizer.js";
import { learningRate } from "./lr.js";
import { nextBatch, type DataPosition } from "./batches.js";
import { stepInputs, type StepInputs } from "./step-inputs.js";
import type { Ops } from "../nn/ops.js";
import { OnnxGradientEngine, onnxThreadsPerWorker } from "./onnx-gradients.js";
import type { OnnxDevice } from "../export/cuda-provider.js";
import { startingWeights } from "./init.js";
import { writeCheckpoint, CHECKPOINT_FORMAT, type Checkpoint } from "./checkpoint.js";
import type { TrainingSet } from "./training-set.js";
import { MetricsLog, type MetricsRecord } from "./metrics-log.js";
import { divergedMessage } from "./diverged.js";
import { PerceptualProbe, perceptualNoise } from "./perceptual.js";
import { DomainExtractor } from "../metrics/domain/domain-extractor.js";

/** Averages a flat buffer across workers in place (identity for a single worker). */
export interface GradientReducer {
  readonly rank: number;
  readonly world: number;
  average(buf: Float32Array): Promise<void>;
}

export const singleWorker: GradientReducer = { rank: 0, world: 1, average: async () => {} };

export interface LoopOptions {
  runDir: string;
  config: Config;
  data: TrainingSet;
  /** Pairs held out for the logging batch of the VLB/KL term and the perceptual loss (defaults to the first training pairs). */
  heldOut?: TrainingSet;
  tokenizer: Tokenizer | null;
  resumeFrom: Checkpoint | null;
  reducer: GradientReducer;
  progress: ProgressSink;
  signal?: AbortSignal;
  /** Stop after this step (for `verify --steps K`); defaults to train.steps. */
  stopAt?: number;
  /** Every `digestEvery` steps and at the end, the parameters (same order on every worker) for a digest. */
  digestEvery?: number;
  onDigest?: (step: number, params: Float32Array[]) => void;
  /** Called after each checkpoint is written (rank 0): the manifest is refreshed there. */
  onCheckpoint?: (step: number) => void;
  /** CPU threads this worker may use for onnx gradients (`--threads`, engine.threads); default: cores ÷ workers. */
  threads?: number;
  /** Where onnx gradients run (engine.device, resolved; default the CPU). */
  device?: OnnxDevice;
}

export interface LoopResult {
  step: number;
  interrupted: boolean;
  /** The engine that computed the gradients. */
  gradients: GradientEngineName;
  params: ParamMap;
  ema: ParamMap;
}

export type GradientEngineName = "tfjs" | "onnx";

/**
 * The engine that computes loss and gradients for `engine.gradients`, and why. auto: always
 * onnxruntime-node, on the device engine.device chose (`provider`): on the CPU it is several times
 * faster than tfjs-wasm, and on GPUs it is the path with Hopper kernels (onnxruntime's CUDA 12 /
 * cuDNN 9 provider), where tfjs would need tfjs-node-gpu's CUDA 11.2 libtensorflow. tfjs stays
 * available when asked for by name.
 */
export function chooseGradientEngine(requested: "auto" | GradientEngineName, provider: "cpu" | "cuda" = "cpu"): { engine: GradientEngineName; reason: string } {
  if (requested !== "auto") return { engine: requested, reason: `engine.gradients: ${requested}` };
  return { engine: "onnx", reason: `auto: onnxruntime-node on ${provider === "cuda" ? "CUDA (engine.device)" : "the CPU"}` };
}

/** Seed of the parameter initialisation (a stream of its own, derived from the master seed). */
export function initSeed(seed: number): number {
  return new Rng(seed, "init").nextU32();
}

const VLB_BATCH = 8;

/**
 * The network on the logging batch (the KL term's and the perceptual loss's), conditioned:
 * `count` pairs' tokens or sketches, tiled level-major when `t` holds several copies of the batch.
 */
export function loggingDenoiser(ops: Ops<tf.Tensor>, model: ModelConfig, batch: Pick<StepInputs, "tokens" | "sketch">, count: number): (x: Float32Array, t: Float32Array) => Promise<Float32Array> {
  const R = model.resolution;
  return async (x, t) => {
    const n = t.length;
    const copies = n / count;
    const out = tf.tidy(() =>
      forward(ops, model, {
        x: tf.tensor(x, [n, R, R, 3]),
        t: tf.tensor(t, [n]),
        cond: tf.ones([n]),
        tokens: batch.tokens ? tf.tile(tf.tensor(batch.tokens, [count, model.max_tokens], "int32"), [copies, 1]) : undefined,
        sketch: batch.sketch ? tf.tile(tf.tensor(batch.sketch, [count, R, R, 1]), [copies, 1, 1, 1]) : undefined,
      }),
    );
    const d = (await out.data()) as Float32Array;
    out.dispose();
    return d;
  };
}

export async function trainLoop(o: LoopOptions): Promise<LoopResult> {
  const { config, data, reducer } = o;
  const cfg = config.train;
  const model = config.model;
  const R = model.resolution;
  const schedule: NoiseSchedule = makeSchedule(config.diffusion);
  const objective = objectiveConfig(schedule, config.diffusion);
  const vocab = o.tokenizer ? o.tokenizer.size : 0;
  const specs = modelParamSpecs(model, vocab);
  const B = cfg.batch_size;
  if (B % reducer.world !== 0) throw new RuntimeFailure(`train.batch_size ${B} does not split into ${reducer.world} equal shards`);
  const shard = B / reducer.world;
  const myPositions = Array.from({ length: shard }, (_, k) => reducer.rank * shard + k);
  const stopAt = Math.min(o.stopAt ?? cfg.steps, cfg.steps);

  // ---- state: fresh or from a checkpoint
  let step = 0;
  let pos: DataPosition = { epoch: 0, offset: 0 };
  // train.adapter: a frozen base and the adapter's parameters, the only trainable ones (adapter.ts)
  const adapter = setupAdapter(config, specs);
  if (adapter && o.resumeFrom) checkAdapterBase(o.resumeFrom.state.adapter, adapter, o.resumeFrom.dir);
  // train.init: seeded initialisation, or a base's / another run's weights (init.ts)
  const init = o.resumeFrom ? o.resumeFrom.params : adapter ? initParams(adapter.specs, initSeed(config.seed)) : startingWeights(config, specs, initSeed(config.seed));
  // host state, one Float32Array per parameter in `names` order (the checkpoint's order)
  const names = [...init.keys()];
  const shapes = names.map((n) => init.get(n)!.shape.slice());
  const sizes = names.map((n) => init.get(n)!.data.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const params = names.map((n) => Float32Array.from(init.get(n)!.data));
  const emaInit = o.resumeFrom ? o.resumeFrom.ema : init;
  const ema = names.map((n, k) => {
    const e = emaInit.get(n);
    if (!e || e.data.length !== sizes[k]) throw new RuntimeFailure(`checkpoint EMA of "${n}" is missing or has the wrong size`);
    return Float32Array.from(e.data);
  });
  const adam = new Adam(sizes, { ...ADAM_DEFAULTS, weightDecay: cfg.weight_decay, decoupled: cfg.optimizer === "adamw" });
  if (o.resumeFrom) {
    // a moment missing from the checkpoint starts at zero (as a fresh parameter would)
    const moment = (map: ParamMap, n: string, k: number): Float32Array => map.get(n)?.data ?? new Float32Array(sizes[k]);
    adam.load(names.map((n, k) => moment(o.resumeFrom!.adamM, n, k)), names.map((n, k) => moment(o.resumeFrom!.adamV, n, k)), o.resumeFrom.state.optimizer_step);
    step = o.resumeFrom.state.step;
    pos = o.resumeFrom.state.data;
  }
  const asParamMap = (arrays: readonly Float32Array[]): ParamMap => new Map(names.map((n, k) => [n, { shape: shapes[k], data: arrays[k] }]));

  // tfjs variables: a mirror of `params` for the tfjs gradient path and the VLB evaluation
  // (uploaded from copies: tf.tensor may keep the array it is given, and `params` changes in place)
  const vars = paramVariables(init);
  const frozen = adapter ? paramTensors(adapter.frozen) : null;
  let mirrorStale = false;
  const syncMirror = (): void => {
    if (!mirrorStale) return;
    names.forEach((n, k) => tf.tidy(() => vars.get(n)!.assign(tf.tensor(params[k].slice(), shapes[k], "float32"))));
    mirrorStale = false;
  };
  const ops = adapter && frozen ? withLora(new TfjsOps(new Map<string, tf.Tensor>([...frozen, ...vars])), adapter.plan) : new TfjsOps(vars);
  const log = reducer.rank === 0 ? new MetricsLog(path.join(o.runDir, "metrics.jsonl"), step) : null;
  const gradients = chooseGradientEngine(config.engine.gradients, o.device?.provider);
  // onnx: loss and gradients in onnxruntime-node (bits independent of its thread count)
  const onnxGrads =
    gradients.engine === "onnx"
      ? await OnnxGradientEngine.create({ model, params: names.map((n, k) => ({ name: n, shape: shapes[k] })), batch: shard, objective, threads: o.threads ?? onnxThreadsPerWorker(reducer.world), device: o.device, frozen: adapter?.frozen, lora: adapter?.plan })
      : null;

  // fixed VLB batch: first pairs of the held-out set, evenly spread timesteps, fixed noise
  const vlbSet = o.heldOut ?? data;
  const vlbCount = Math.min(VLB_BATCH, vlbSet.n);
  const vlbRows = Array.from({ length: vlbCount }, (_, k) => k);
  const vlbIn = stepInputs(vlbSet, model, o.tokenizer, config.seed, -1, vlbRows, vlbRows, schedule.T, 0, false);
  const vlbT = Array.from({ length: vlbCount }, (_, k) => Math.floor(((k + 0.5) * schedule.T) / vlbCount));
  const vlbNoise = new Rng(config.seed, "vlb").normals(vlbCount * R * R * 3);
  // the perceptual loss on the same pairs (perceptual.ts): the domain extractor is loaded before
  // the first step, so its weights count among the tensors the leak check starts from
  const domain = log ? await DomainExtractor.load() : null;
  const perceptual = domain ? new PerceptualProbe((images) => domain.featureRows(images), vlbIn.x0, perceptualNoise(config.seed, vlbCount, R * R * 3), vlbCount, R, schedule, config.diffusion.prediction) : null;

  // the step the newest checkpoint on disk holds (a resumed run starts from one)
  let savedStep = o.resumeFrom ? step : -1;
  const saveCheckpoint = (lastLoss: number | null): void => {
    if (reducer.rank !== 0 || savedStep === step) return;
    savedStep = step;
    writeCheckpoint(o.runDir, {
      state: { format: CHECKPOINT_FORMAT, step, optimizer_step: adam.t, data: pos, rng: { seed: config.seed, derivation: "Rng(seed, 'sample', step, i); Rng(seed, 'data', epoch)" }, loss: lastLoss, ...(adapter ? { adapter: adapter.state } : {}) },
      params: asParamMap(params),
      ema: asParamMap(ema),
      adamM: asParamMap(adam.m),
      adamV: asParamMap(adam.v),
    });
    o.onCheckpoint?.(step);
  };

  const startStep = step;
  const t0 = Date.now();
  let lastLoss: number | null = null;
  let interrupted = false;
  let tensorsAtStart = -1;
  o.progress.start("training", stopAt);
  o.progress.update(step);
  try {
    while (step < stopAt && !interrupted) {
      const lr = learningRate(step, cfg.lr, cfg.warmup, cfg.steps);
      const batch = nextBatch(config.seed, data.n, B, pos);
      const myPairs = myPositions.map((p) => batch.indices[p]);
      const inp = stepInputs(data, model, o.tokenizer, config.seed, step, myPositions, myPairs, schedule.T, cfg.cond_dropout, cfg.flip);

      // ---- forward + backward on this worker's shard (mean loss over the shard)
      // [gradients…, loss, stop flag]: one buffer, one all-reduce per step
      const flat = new Float32Array(total + 2);
      if (onnxGrads) await onnxGrads.compute(params, inp, flat);
      else {
        syncMirror();
        tf.tidy(() => {
          const x0 = tf.tensor(inp.x0, [shard, R, R, 3]);
          const eps = tf.tensor(inp.noise, [shard, R, R, 3]);
          const tArr = Array.from(inp.t);
          const xt = tf.tidy(() => {
            const a = tf.tensor(tArr.map((t) => schedule.sqrtAlphaBars[t]), [shard, 1, 1, 1]);
            const s = tf.tensor(tArr.map((t) => schedule.sqrtOneMinusAlphaBars[t]), [shard, 1, 1, 1]);
            return tf.add(tf.mul(a, x0), tf.mul(s, eps)); // q(x_t | x_0), DDPM eq. 4
          });
          const { value, grads } = tf.variableGrads(() =>
            diffusionLoss(
              forward(ops, model, {
                x: xt,
                t: tf.tensor(Float32Array.from(tArr), [shard]),
                cond: tf.tensor(inp.cond, [shard]),
                tokens: inp.tokens ? tf.tensor(inp.tokens, [shard, model.max_tokens], "int32") : undefined,
                sketch: inp.sketch ? tf.tensor(inp.sketch, [shard, R, R, 1]) : undefined,
              }),
              x0,
              eps,
              tArr,
              objective,
            ),
            [...vars.values()],
          );
          let off = 0;
          names.forEach((n, k) => {
            const g = grads[vars.get(n)!.name];
            if (g) flat.set(g.dataSync() as Float32Array, off);
            off += sizes[k];
          });
          flat[total] = value.dataSync()[0];
        });
      }
      // let pending events (Ctrl-C, worker messages) run: tfjs calls here are synchronous
      await new Promise<void>((resolve) => setImmediate(resolve));
      flat[total + 1] = o.signal?.aborted ? 1 : 0;

      // ---- all-reduce (average over equal shards = gradient of the global-batch mean loss)
      await o.reducer.average(flat);
      const loss = flat[total];
      // a stop request on any worker stops every worker after this same step (no deadlock)
      if (flat[total + 1] > 0) interrupted = true;
      if (!Number.isFinite(loss)) {
        throw new RuntimeFailure(divergedMessage("loss", loss, step + 1, o.runDir, config, savedStep >= 0 ? savedStep : null));
      }
      const grads: Float32Array[] = [];
      let off = 0;
      for (const n of sizes) {
        grads.push(flat.subarray(off, off + n));
        off += n;
      }
      const gnorm = globalNorm(grads);
      if (!Number.isFinite(gnorm)) throw new RuntimeFailure(divergedMessage("gradient norm", gnorm, step + 1, o.runDir, config, savedStep >= 0 ? savedStep : null));
      const clip = cfg.grad_clip > 0 && gnorm > cfg.grad_clip ? cfg.grad_clip / gnorm : 1;

      // ---- update on the host: AdamW (gradients scaled by the clip factor), then EMA
      adam.apply(params, grads, clip, lr);
      updateEma(ema, params, cfg.ema);
      mirrorStale = true;
      step += 1;
      pos = batch.next;
      lastLoss = loss;
      if (step === startStep + 2) tensorsAtStart = tf.memory().numTensors;
      else if (tensorsAtStart >= 0 && step > startStep + 2 && tf.memory().numTensors > tensorsAtStart) {
        throw new RuntimeFailure(`tensor leak: ${tf.memory().numTensors - tensorsAtStart} tensors not disposed at step ${step}`);
      }

      // ---- logging
      const secs = (Date.now() - t0) / 1000;
      const rate = (step - startStep) / Math.max(secs, 1e-9);
      if (log && (step % cfg.log_every === 0 || step === stopAt)) {
        const rec: MetricsRecord = { step, loss, lr, grad_norm: gnorm, steps_per_s: rate };
        if (step % cfg.eval_every === 0 || step === cfg.steps) {
          syncMirror();
          const denoise = loggingDenoiser(ops, model, vlbIn, vlbCount);
          const v = await vlbOnBatch(denoise, vlbIn.x0, vlbNoise, vlbT, schedule, config.diffusion.prediction);
          rec.kl_bpd = v.mean;
          if (perceptual) rec.perceptual = (await perceptual.measure(denoise)).mean;
        }
        log.append(rec);
      }
      o.progress.update(step, { loss });
      if (o.onDigest && o.digestEvery && (step % o.digestEvery === 0 || step === stopAt || interrupted)) {
        o.onDigest(step, params);
      }
      if (step % cfg.checkpoint_every === 0 && step < stopAt) saveCheckpoint(lastLoss);
    }
    saveCheckpoint(lastLoss);
  } finally {
    o.progress.stop();
    log?.close();
    await onnxGrads?.release();
    await domain?.release();
    disposeTensors(vars);
    if (frozen) disposeTensors(frozen);
  }
  return { step, interrupted, gradients: gradients.engine, params: asParamMap(params), ema: asParamMap(ema) };
}

/** Does the run folder already hold metrics past `step`? (used to refuse silent overwrite) */
export function metricsPath(runDir: string): string {
  return path.join(runDir, "metrics.jsonl");
}

export function readMetrics(runDir: string): MetricsRecord[] {
  const file = metricsPath(runDir);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim().length > 0)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as MetricsRecord];
      } catch {
        return [];
      }
    });
}
