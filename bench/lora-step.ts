/**
 * Issue 15: a LoRA training step against a full fine-tuning step on the bench network
 * (configs/bench.yaml, batch 16): onnxruntime loss + gradients (src/train/onnx-gradients.ts; the
 * LoRA graph has the frozen base as initializers and differentiates only the adapter) plus the
 * host update the trainer runs (global-norm clip, AdamW, EMA) over the trainable parameters.
 * Variants are interleaved round by round so load on this shared machine hits all of them alike;
 * each figure is the median of all timed reps. Base weights and data are seeded random.
 *
 *   node --import tsx bench/lora-step.ts [--rounds 3] [--reps 5] [--warmup 2] [--threads N]
 */
import * as os from "node:os";
import { pathToFileURL } from "node:url";
import * as path from "node:path";
import { loadConfig } from "../src/config/load.js";
import type { LoraTarget } from "../src/config/lora-targets.js";
import { objectiveConfig } from "../src/diffusion/objective.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { Rng } from "../src/engine/rng.js";
import { loraPlan, loraSpecs } from "../src/model/lora.js";
import { countParams, initParams, modelParamSpecs, type ParamSpec } from "../src/model/model.js";
import { OnnxGradientEngine } from "../src/train/onnx-gradients.js";
import { Adam, ADAM_DEFAULTS, globalNorm, updateEma } from "../src/train/optimizer.js";
import type { StepInputs } from "../src/train/step-inputs.js";

export interface LoraBenchRow {
  variant: string;
  trainable: number;
  fraction_of_full: number;
  /** Median ms of one step (gradients + host update). */
  step_ms: number;
  /** step_ms / the full fine-tune's step_ms. */
  vs_full: number;
}

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const TARGETS: LoraTarget[] = ["attn_q", "attn_k", "attn_v", "attn_out", "conv3x3"];

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function benchLoraStep(o: { rounds?: number; reps?: number; warmup?: number; threads?: number; log?: (s: string) => void } = {}): Promise<LoraBenchRow[]> {
  const rounds = o.rounds ?? 3;
  const reps = o.reps ?? 5;
  const warmup = o.warmup ?? 2;
  const threads = o.threads ?? os.availableParallelism();
  const { config } = loadConfig(path.join(ROOT, "configs", "bench.yaml"), []);
  const model = config.model;
  const B = config.train.batch_size;
  const R = model.resolution;
  const schedule = makeSchedule(config.diffusion);
  const objective = objectiveConfig(schedule, config.diffusion);
  const specs = modelParamSpecs(model, 0);
  const base = initParams(specs, 1);
  const full = countParams(specs);
  const rng = new Rng(15, "bench-lora");
  const inp: StepInputs = {
    count: B,
    x0: Float32Array.from(rng.normals(B * R * R * 3)),
    noise: Float32Array.from(rng.normals(B * R * R * 3)),
    t: Int32Array.from({ length: B }, (_, i) => Math.floor(((i + 0.5) * schedule.T) / B)),
    cond: new Float32Array(B).fill(1),
  };

  interface Variant {
    name: string;
    trainable: ParamSpec[];
    engine: OnnxGradientEngine;
    params: Float32Array[];
    ema: Float32Array[];
    adam: Adam;
    times: number[];
  }
  const variants: Variant[] = [];
  const make = async (name: string, trainable: ParamSpec[], extra: Partial<Parameters<typeof OnnxGradientEngine.create>[0]>): Promise<void> => {
    const init = initParams(trainable, 2);
    const params = trainable.map((s) => Float32Array.from((base.get(s.name) ?? init.get(s.name))?.data ?? []));
    const engine = await OnnxGradientEngine.create({ model, params: trainable.map((s) => ({ name: s.name, shape: s.shape })), batch: B, objective, threads, ...extra });
    variants.push({ name, trainable, engine, params, ema: params.map((p) => p.slice()), adam: new Adam(params.map((p) => p.length), { ...ADAM_DEFAULTS, weightDecay: 0, decoupled: true }), times: [] });
  };
  await make("full", specs, {});
  for (const rank of [4, 16]) {
    const s = { rank, targets: TARGETS };
    await make(`lora-${rank}`, loraSpecs(specs, s, model), { frozen: base, lora: loraPlan(specs, s, model) });
  }
  const step = async (v: Variant): Promise<number> => {
    const total = v.params.reduce((a, p) => a + p.length, 0);
    const t0 = performance.now();
    const flat = new Float32Array(total + 1);
    await v.engine.compute(v.params, inp, flat);
    const grads: Float32Array[] = [];
    let off = 0;
    for (const p of v.params) {
      grads.push(flat.subarray(off, off + p.length));
      off += p.length;
    }
    const norm = globalNorm(grads);
    v.adam.apply(v.params, grads, norm > 1 ? 1 / norm : 1, 1e-4);
    updateEma(v.ema, v.params, 0.999);
    return performance.now() - t0;
  };
  try {
    for (const v of variants) for (let i = 0; i < warmup; i++) await step(v);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) for (let i = 0; i < reps; i++) v.times.push(await step(v));
    }
  } finally {
    for (const v of variants) await v.engine.release();
  }
  const fullMs = median(variants[0]?.times ?? [NaN]);
  const rows = variants.map((v) => {
    const trainable = countParams(v.trainable);
    const ms = median(v.times);
    return { variant: v.name, trainable, fraction_of_full: trainable / full, step_ms: ms, vs_full: ms / fullMs };
  });
  for (const r of rows) o.log?.(`  ${r.variant}: ${r.step_ms.toFixed(0)} ms/step (${(100 * r.fraction_of_full).toFixed(1)} % of the parameters trainable; ${r.vs_full.toFixed(2)}× the full fine-tune's step)`);
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const rows = await benchLoraStep({ rounds: arg("rounds"), reps: arg("reps"), warmup: arg("warmup"), threads: arg("threads"), log: console.log });
  console.log(JSON.stringify(rows, null, 2));
}
