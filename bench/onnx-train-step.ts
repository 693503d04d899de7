/**
 * Issue 9: one full diffx training step of a config (default configs/bench.yaml) with the
 * gradients computed in onnxruntime-node (src/train/onnx-gradients.ts) and the rest as the
 * trainer does it (src/train/trainer.ts: per-sample draws, parameters to the host, gradients
 * and loss into the flat buffer, global-norm clipping, AdamW and EMA on the host), interleaved with
 * the PyTorch reference's training step (bench/reference/torch_unet.py --serve), and the ratio.
 *
 *   node --import tsx bench/onnx-train-step.ts [--config configs/bench.yaml] [--rounds 3]
 *        [--reps 5] [--warmup 2] [--threads N] [--torch-threads N] [--no-torch]
 *
 * Rounds alternate the order (ORT first, then torch first, …) so load on this shared machine
 * hits both sides alike; each side's figure is the median over all timed reps. The step data
 * is an in-memory set of seeded random images (as bench/run.ts does).
 * It prints where a step's time goes (inputs, ORT gradients, clip + AdamW + EMA).
 */
import { spawn } from "node:child_process";
import * as os from "node:os";
import * as readline from "node:readline";
import { loadConfig } from "../src/config/load.js";
import { objectiveConfig } from "../src/diffusion/objective.js";
import { makeSchedule } from "../src/diffusion/schedule.js";
import { Rng } from "../src/engine/rng.js";
import { initParams, modelParamSpecs } from "../src/model/model.js";
import { nextBatch, type DataPosition } from "../src/train/batches.js";
import { learningRate } from "../src/train/lr.js";
import { OnnxGradientEngine } from "../src/train/onnx-gradients.js";
import { Adam, ADAM_DEFAULTS, globalNorm, updateEma } from "../src/train/optimizer.js";
import { stepInputs } from "../src/train/step-inputs.js";
import { initSeed } from "../src/train/trainer.js";
import type { TrainingSet } from "../src/train/training-set.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const configFile = arg("config", "configs/bench.yaml");
const rounds = Number(arg("rounds", "3"));
const reps = Number(arg("reps", "5"));
const warmup = Number(arg("warmup", "2"));
const threads = Number(arg("threads", String(os.availableParallelism())));
const torchThreads = Number(arg("torch-threads", String(threads)));
const withTorch = !flag("no-torch");

const { config } = loadConfig(configFile);
const model = config.model;
if (model.conditioning !== "none") throw new Error("this bench builds an in-memory set of images only (conditioning: none)");
const cfg = config.train;
const R = model.resolution;
const B = cfg.batch_size;

// ---- the trainer's state and per-step work, for one worker
const schedule = makeSchedule(config.diffusion);
const objective = objectiveConfig(schedule, config.diffusion);
const specs = modelParamSpecs(model, 0);
const n = 64;
const data: TrainingSet = { n, images: new Rng(1, "bench-images").normals(n * R * R * 3).map((v) => Math.max(-1, Math.min(1, v / 2))), captions: [], ids: [] };
const init = initParams(specs, initSeed(config.seed));
const names = [...init.keys()];
const params = names.map((name) => Float32Array.from(init.get(name)!.data));
const ema = params.map((p) => Float32Array.from(p));
const sizes = params.map((p) => p.length);
const adam = new Adam(sizes, { ...ADAM_DEFAULTS, weightDecay: cfg.weight_decay, decoupled: cfg.optimizer === "adamw" });
const t0 = performance.now();
const engine = await OnnxGradientEngine.create({ model, params: names.map((name) => ({ name, shape: init.get(name)!.shape })), batch: B, objective, threads });
const buildMs = performance.now() - t0;
const total = engine.total;
let step = 0;
let pos: DataPosition = { epoch: 0, offset: 0 };
const phases = { inputs: 0, gradients: 0, update: 0 };

async function trainStep(): Promise<number> {
  const a = performance.now();
  const lr = learningRate(step, cfg.lr, cfg.warmup, cfg.steps);
  const batch = nextBatch(config.seed, data.n, B, pos);
  const positions = Array.from({ length: B }, (_, k) => k);
  const inp = stepInputs(data, model, null, config.seed, step, positions, positions.map((p) => batch.indices[p] as number), schedule.T, cfg.cond_dropout, cfg.flip);
  const b = performance.now();
  const flat = new Float32Array(total + 2);
  await engine.compute(params, inp, flat);
  const c = performance.now();
  const grads: Float32Array[] = [];
  let off = 0;
  for (const size of sizes) {
    grads.push(flat.subarray(off, off + size));
    off += size;
  }
  const gnorm = globalNorm(grads);
  const clip = cfg.grad_clip > 0 && gnorm > cfg.grad_clip ? cfg.grad_clip / gnorm : 1;
  adam.apply(params, grads, clip, lr);
  updateEma(ema, params, cfg.ema);
  step += 1;
  pos = batch.next;
  const d = performance.now();
  phases.inputs += b - a;
  phases.gradients += c - b;
  phases.update += d - c;
  if (!Number.isFinite(flat[total] as number)) throw new Error(`loss is ${flat[total]} at step ${step}`);
  return d - a;
}

// ---- the PyTorch reference, kept alive between rounds
interface TorchServer {
  ask(cmd: object): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}
async function startTorch(): Promise<TorchServer> {
  const child = spawn("/usr/bin/python3", ["bench/reference/torch_unet.py", "--serve", "--threads", String(torchThreads)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = readline.createInterface({ input: child.stdout });
  const waiting: ((v: Record<string, unknown>) => void)[] = [];
  lines.on("line", (line) => {
    if (line.startsWith("@@bench ")) waiting.shift()?.(JSON.parse(line.slice(8)) as Record<string, unknown>);
  });
  const answer = (): Promise<Record<string, unknown>> => new Promise((resolve) => waiting.push(resolve));
  const ready = await answer();
  console.log(`torch ${String(ready.torch)}, ${String(ready.threads)} threads, ${String(ready.params)} params`);
  return {
    ask: (cmd) => {
      const p = answer();
      child.stdin.write(JSON.stringify(cmd) + "\n");
      return p;
    },
    close: async () => {
      const p = answer();
      child.stdin.write(JSON.stringify({ cmd: "exit" }) + "\n");
      await p;
    },
  };
}

console.log(`${configFile}: ${total} params, batch ${B}, ORT ${threads} threads, session built in ${(buildMs / 1000).toFixed(1)} s`);
const torch = withTorch ? await startTorch() : null;
for (let i = 0; i < warmup; i++) await trainStep();
if (torch) await torch.ask({ cmd: "train", reps: 0, warmup });
phases.inputs = phases.gradients = phases.update = 0;
const ortTimes: number[] = [];
const torchTimes: number[] = [];
for (let r = 0; r < rounds; r++) {
  const runOrt = async () => {
    for (let i = 0; i < reps; i++) ortTimes.push(await trainStep());
  };
  const runTorch = async () => {
    if (torch) torchTimes.push(...((await torch.ask({ cmd: "train", reps, warmup: 0 })).ms as number[]));
  };
  if (r % 2 === 0) {
    await runOrt();
    await runTorch();
  } else {
    await runTorch();
    await runOrt();
  }
  console.log(`round ${r + 1}: ORT step median ${median(ortTimes.slice(-reps)).toFixed(0)} ms` + (torch ? `, torch ${median(torchTimes.slice(-reps)).toFixed(0)} ms` : ""));
}
if (torch) await torch.close();
const count = ortTimes.length;
const fmt = (a: number[]) => `median ${median(a).toFixed(0)} ms (min ${Math.min(...a).toFixed(0)}, max ${Math.max(...a).toFixed(0)}, n ${a.length})`;
console.log(`diffx step, gradients in ORT: ${fmt(ortTimes)}`);
console.log(`  per step: inputs+params to host ${(phases.inputs / count).toFixed(0)} ms, ORT gradients ${(phases.gradients / count).toFixed(0)} ms, clip+AdamW+EMA ${(phases.update / count).toFixed(0)} ms`);
if (torch) {
  console.log(`torch step:                      ${fmt(torchTimes)}`);
  console.log(`ratio diffx/torch (medians): ${(median(ortTimes) / median(torchTimes)).toFixed(2)}`);
}
await engine.release();
