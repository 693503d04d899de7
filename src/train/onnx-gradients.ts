/**
 * The gradient half of a training step in onnxruntime-node (issue 9): the loss of
 * src/diffusion/objective.ts and its gradient with respect to every parameter, computed by one
 * ORT session over a graph that diffx builds itself (forward + reverse-mode gradient graph,
 * src/nn/onnx-grad.ts). The parameter update (all-reduce, clipping, AdamW, EMA) stays in the
 * trainer; this engine replaces only its `tf.variableGrads` block: params in, [grads…, loss]
 * out, in the trainer's flat-buffer layout.
 *
 * Graph inputs: every parameter (so weights change each step without rebuilding the session),
 * x_t, t, cond, tokens / sketch, the regression target and the per-sample loss weights.
 * x_t, the target and the weights are computed here in JS with the same float32 rounding as
 * the trainer's tfjs code (q(x_t | x_0): √ᾱ·x0 + √(1−ᾱ)·ε; v = √ᾱ·ε − √(1−ᾱ)·x0; min-SNR
 * weights from `lossWeights`). The loss, mean_b w_b · mean((pred − target)²), is built in the
 * graph with the op interface, so its gradient comes from the same VJPs as the network's.
 *
 * Deterministic on the CPU: the session runs sequentially with a fixed thread count;
 * onnxruntime's CPU kernels partition work by that count only, so the same inputs give the same
 * bits. On CUDA (engine.device) cuDNN picks its algorithms per run and TF32 is on by default, so
 * results agree with the CPU's to float32 tolerance, not bit for bit.
 */
import * as os from "node:os";
import * as ort from "onnxruntime-node";
import type { ModelConfig } from "../config/schema.js";
import { RuntimeFailure } from "../errors.js";
import { lossWeights, type ObjectiveConfig } from "../diffusion/objective.js";
import { forward } from "../model/model.js";
import { OnnxGradOps, type GradValue } from "../nn/onnx-grad.js";
import { withLora, type LoraPlan } from "../nn/lora.js";
import { createOnnxSession } from "../export/onnx-runner.js";
import type { OnnxDevice } from "../export/cuda-provider.js";
import type { StepInputs } from "./step-inputs.js";

/** A parameter's name and shape, in the trainer's flat order. */
export interface ParamShape {
  name: string;
  shape: readonly number[];
}

export interface OnnxGradientOptions {
  model: ModelConfig;
  /** Every trainable parameter, in the order of the flat gradient buffer. */
  params: readonly ParamShape[];
  /** Samples per step on this worker (the graph is built for this batch size). */
  batch: number;
  objective: ObjectiveConfig;
  /** Intra-op threads (default: all cores). The same count gives the same bits. */
  threads?: number;
  /** Where the session runs (engine.device; default the CPU). */
  device?: OnnxDevice;
  /** Parameters that are not trained (a LoRA run's base): initializers of the graph, no gradient work. */
  frozen?: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;
  /** The LoRA adapter the forward runs (its parameters are among `params`). */
  lora?: LoraPlan | null;
}

const LOSS = "loss";

/** Intra-op threads for one of `world` worker processes sharing this machine's cores. */
export function onnxThreadsPerWorker(world: number): number {
  return Math.max(1, Math.floor(os.availableParallelism() / world));
}
const gradName = (param: string): string => `grad:${param}`;

/** Builds the training graph: forward, diffusion loss, gradients. Returns the ONNX bytes. */
export function buildTrainingGraph(o: Omit<OnnxGradientOptions, "threads" | "device">): { bytes: Uint8Array; withGradient: Set<string> } {
  const { model, batch: B } = o;
  const R = model.resolution;
  const ops = new OnnxGradOps(new Map(o.params.map((p) => [p.name, p.shape])), o.frozen);
  const net = o.lora ? withLora(ops, o.lora) : ops;
  const xt = ops.input("x_t", "float32", [B, R, R, 3]);
  const t = ops.input("t", "float32", [B]);
  const cond = ops.input("cond", "float32", [B]);
  const tokens = model.conditioning === "text" ? ops.input("tokens", "int32", [B, model.max_tokens]) : undefined;
  const sketch = model.conditioning === "sketch" ? ops.input("sketch", "float32", [B, R, R, 1]) : undefined;
  const target = ops.input("target", "float32", [B, R, R, 3]);
  const weights = ops.input("loss_weight", "float32", [B]);
  const predicted = forward(net, model, { x: xt, t, cond, tokens, sketch });
  const loss = diffusionLossGraph(ops, predicted, target, weights);
  const grads = ops.backward(loss);
  ops.output(loss, LOSS);
  for (const [name, g] of grads) ops.output(g, gradName(name));
  return { bytes: ops.graph.toBytes("diffx-train-step", "diffx"), withGradient: new Set(grads.keys()) };
}

/** mean_b w_b · mean_{h,w,c} (predicted − target)² — objective.ts's `diffusionLoss`. */
function diffusionLossGraph(ops: OnnxGradOps, predicted: GradValue, target: GradValue, weights: GradValue): GradValue {
  const d = ops.sub(predicted, target);
  const perSample = ops.mean(ops.mul(d, d), [1, 2, 3], false);
  return ops.mean(ops.mul(perSample, weights), [0], false);
}

export class OnnxGradientEngine {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly o: OnnxGradientOptions,
    private readonly withGradient: Set<string>,
    readonly threads: number,
  ) {}

  static async create(o: OnnxGradientOptions): Promise<OnnxGradientEngine> {
    const threads = o.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new RuntimeFailure(`onnxruntime threads must be a positive integer, got ${threads}`);
    const { bytes, withGradient } = buildTrainingGraph(o);
    // the runner's session options (optimisation "all", sequential, arena, idle threads sleep),
    // on the CPU or the CUDA provider (parity with the CPU: npm run test:gpu)
    // no CPU arena: the gradient graph's buffers are the bulk of a training process, and the arena
    // held them at its grown size (a quickstart fold training: 970 MB peak RSS with it, 805 MB without)
    const { session } = await createOnnxSession(bytes, { threads, device: o.device, memoryArena: false });
    return new OnnxGradientEngine(session, o, withGradient, threads);
  }

  /** Number of floats of the gradients (the loss goes right after them in `flat`). */
  get total(): number {
    return this.o.params.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  }

  /**
   * One shard's loss and gradients: `params[k]` holds the values of `options.params[k]`;
   * the gradients are written to flat[0 … total) in that order (zeros for a parameter that
   * does not reach the loss) and the loss to flat[total].
   */
  async compute(params: readonly Float32Array[], inp: StepInputs, flat: Float32Array): Promise<void> {
    const { model, objective, batch: B } = this.o;
    if (params.length !== this.o.params.length) throw new RuntimeFailure(`onnx gradients: got ${params.length} parameter arrays for ${this.o.params.length} parameters`);
    if (inp.count !== B) throw new RuntimeFailure(`onnx gradients: the graph is built for ${B} samples per step, got ${inp.count}`);
    if (flat.length < this.total + 1) throw new RuntimeFailure(`onnx gradients: the flat buffer holds ${flat.length} floats, ${this.total + 1} needed`);
    const R = model.resolution;
    const { xt, target } = noisedAndTarget(inp, objective);
    const feeds: Record<string, ort.Tensor> = {
      x_t: new ort.Tensor("float32", xt, [B, R, R, 3]),
      t: new ort.Tensor("float32", Float32Array.from(inp.t), [B]),
      cond: new ort.Tensor("float32", inp.cond, [B]),
      target: new ort.Tensor("float32", target, [B, R, R, 3]),
      loss_weight: new ort.Tensor("float32", Float32Array.from(lossWeights(inp.t, objective)), [B]),
    };
    if (model.conditioning === "text") {
      if (!inp.tokens) throw new RuntimeFailure("onnx gradients: model.conditioning is text but the step has no token ids");
      feeds.tokens = new ort.Tensor("int32", inp.tokens, [B, model.max_tokens]);
    }
    if (model.conditioning === "sketch") {
      if (!inp.sketch) throw new RuntimeFailure("onnx gradients: model.conditioning is sketch but the step has no sketches");
      feeds.sketch = new ort.Tensor("float32", inp.sketch, [B, R, R, 1]);
    }
    // Outputs are written straight into the flat buffer (pre-allocated fetches).
    const fetches: Record<string, ort.Tensor> = {};
    let off = 0;
    this.o.params.forEach((p, k) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const values = params[k] as Float32Array;
      if (values.length !== n) throw new RuntimeFailure(`onnx gradients: parameter "${p.name}" has ${values.length} values for shape [${p.shape.join(", ")}]`);
      feeds[p.name] = new ort.Tensor("float32", values, [...p.shape]);
      if (this.withGradient.has(p.name)) fetches[gradName(p.name)] = new ort.Tensor("float32", flat.subarray(off, off + n), [...p.shape]);
      else flat.fill(0, off, off + n);
      off += n;
    });
    fetches[LOSS] = new ort.Tensor("float32", flat.subarray(off, off + 1), []);
    const inputs: Record<string, ort.Tensor> = {};
    for (const name of this.session.inputNames) {
      const f = feeds[name];
      if (!f) throw new RuntimeFailure(`onnx gradients: internal error: no feed for graph input "${name}"`);
      inputs[name] = f;
    }
    const out = await this.session.run(inputs, fetches);
    // Copy back in case the binding returned its own buffers instead of filling the fetches.
    for (const [name, fetch] of Object.entries(fetches)) {
      const got = out[name];
      if (got && got.data !== fetch.data) (fetch.data as Float32Array).set(got.data as Float32Array);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε ([DDPM] eq. 4) and the regression target (ε, or
 * v = √ᾱ_t·ε − √(1−ᾱ_t)·x0), with the float32 rounding of the trainer's tfjs code: the
 * coefficients are rounded to float32, every product and sum too.
 */
export function noisedAndTarget(inp: StepInputs, objective: ObjectiveConfig): { xt: Float32Array; target: Float32Array } {
  const { schedule, prediction } = objective;
  const n = inp.x0.length;
  const per = n / inp.count;
  const xt = new Float32Array(n);
  const target = prediction === "eps" ? inp.noise : new Float32Array(n);
  const f = Math.fround;
  for (let b = 0; b < inp.count; b++) {
    const a = f(schedule.sqrtAlphaBars[inp.t[b] as number] as number);
    const s = f(schedule.sqrtOneMinusAlphaBars[inp.t[b] as number] as number);
    for (let i = b * per; i < (b + 1) * per; i++) {
      const x0 = inp.x0[i] as number;
      const eps = inp.noise[i] as number;
      xt[i] = f(a * x0) + f(s * eps);
      if (prediction !== "eps") target[i] = f(a * eps) - f(s * x0);
    }
  }
  return { xt, target };
}
