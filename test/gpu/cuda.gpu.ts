/**
 * `npm run test:gpu`: the checks only a CUDA machine can run (issue 18). Everything here runs
 * onnxruntime's CUDA provider against its CPU provider on the same inputs:
 *   1. gradient parity on the bench network (configs/bench.yaml): loss and every gradient within
 *      1e-3 relative (L2) with TF32 off — the npm script sets NVIDIA_TF32_OVERRIDE=0;
 *   2. `diffx train --devices 2` vs `--devices 1` on CUDA (needs two GPUs): the same losses and
 *      final weights to 1e-3;
 *   3. sampling parity: the network's output to 1e-3 and a 10-step DDIM sample's pixels to a few
 *      levels;
 *   4. a short throughput table (training step and sampling, CPU vs CUDA): printed, not asserted.
 * Where `diffx doctor` finds no CUDA, every test is skipped with doctor's reason, printed first.
 * It is not part of `npm test` (files named *.gpu.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../src/config/load.js";
import { objectiveConfig } from "../../src/diffusion/objective.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { Rng } from "../../src/engine/rng.js";
import { chooseDevice, onnxDevice, type OnnxDevice } from "../../src/export/cuda-provider.js";
import { onnxNetworkFromParams } from "../../src/export/onnx-network.js";
import { initParams, modelParamSpecs } from "../../src/model/model.js";
import { generate } from "../../src/sample/generate.js";
import { listGpus } from "../../src/train/parallel/devices.js";
import { nextBatch } from "../../src/train/batches.js";
import { OnnxGradientEngine } from "../../src/train/onnx-gradients.js";
import { stepInputs } from "../../src/train/step-inputs.js";
import { initSeed } from "../../src/train/trainer.js";
import type { TrainingSet } from "../../src/train/training-set.js";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";

const device = chooseDevice("auto");
const skip = device.provider === "cuda" ? false : `no CUDA here (diffx doctor): ${device.reason.replace(/^auto: CUDA not used: /, "")}`;
if (skip) console.log(`test:gpu: every check is skipped: ${skip}`);
else console.log(`test:gpu: CUDA ${device.versions?.cuda ?? "?"}, cuDNN ${device.versions?.cudnn ?? "?"}, driver ${device.versions?.driver ?? "?"}, GPUs: ${listGpus().map((g) => `${g.id} ${g.name}`).join("; ")}; TF32 ${device.tf32 ?? "?"}`);

const CPU: OnnxDevice = onnxDevice("cpu");
const CUDA: OnnxDevice = onnxDevice("cuda");
const { config } = loadConfig(path.join(ROOT, "configs", "bench.yaml"));
const model = config.model;
const R = model.resolution;
const B = config.train.batch_size;
const schedule = makeSchedule(config.diffusion);
const objective = objectiveConfig(schedule, config.diffusion);
const specs = modelParamSpecs(model, 0);
const init = initParams(specs, initSeed(config.seed));
const names = [...init.keys()];
const params = names.map((n) => Float32Array.from(init.get(n)!.data));
const shapes = names.map((n) => ({ name: n, shape: init.get(n)!.shape }));
const n = 64;
const data: TrainingSet = { n, images: new Rng(1, "gpu-test-images").normals(n * R * R * 3).map((v) => Math.max(-1, Math.min(1, v / 2))), captions: [], ids: [] };

function inputsAt(step: number, batch: number): ReturnType<typeof stepInputs> {
  const b = nextBatch(config.seed, data.n, batch, { epoch: 0, offset: step * batch });
  const positions = Array.from({ length: batch }, (_, k) => k);
  return stepInputs(data, model, null, config.seed, step, positions, positions.map((p) => b.indices[p] as number), schedule.T, config.train.cond_dropout, config.train.flip);
}

/** ‖a − b‖ / ‖b‖ over a range. */
function relL2(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

async function gradients(dev: OnnxDevice, batch: number, step: number): Promise<{ flat: Float32Array; engine: OnnxGradientEngine }> {
  const engine = await OnnxGradientEngine.create({ model, params: shapes, batch, objective, threads: os.availableParallelism(), device: dev });
  const flat = new Float32Array(engine.total + 1);
  await engine.compute(params, inputsAt(step, batch), flat);
  return { flat, engine };
}

test("gradient parity on the bench network: CUDA vs CPU, loss and every gradient within 1e-3 relative (TF32 off)", { skip }, async () => {
  assert.equal(process.env.NVIDIA_TF32_OVERRIDE, "0", "run through `npm run test:gpu`, which turns TF32 off (NVIDIA_TF32_OVERRIDE=0)");
  for (const step of [0, 7]) {
    const cpu = await gradients(CPU, B, step);
    const gpu = await gradients(CUDA, B, step);
    try {
      const total = cpu.engine.total;
      const loss = [cpu.flat[total]!, gpu.flat[total]!];
      assert.ok(Math.abs(loss[0]! - loss[1]!) <= 1e-3 * Math.abs(loss[0]!), `step ${step}: loss ${loss[1]} on CUDA vs ${loss[0]} on the CPU`);
      assert.ok(relL2(gpu.flat.subarray(0, total), cpu.flat.subarray(0, total)) <= 1e-3, `step ${step}: the whole gradient differs by ${relL2(gpu.flat.subarray(0, total), cpu.flat.subarray(0, total))}`);
      let off = 0;
      let worst = { name: "", err: 0 };
      for (const { name, shape } of shapes) {
        const size = shape.reduce((a, b) => a * b, 1);
        const a = cpu.flat.subarray(off, off + size);
        off += size;
        if (Math.sqrt(a.reduce((s, v) => s + v * v, 0)) < 1e-6) continue; // a parameter with no gradient at this step (zero-initialised paths)
        const err = relL2(gpu.flat.subarray(off - size, off), a);
        if (err > worst.err) worst = { name, err };
      }
      console.log(`step ${step}: loss ${loss[0]} (CPU) vs ${loss[1]} (CUDA); worst parameter ${worst.name}: ${worst.err.toExponential(2)} relative`);
      assert.ok(worst.err <= 1e-3, `step ${step}: ${worst.name}'s gradient differs by ${worst.err} relative`);
    } finally {
      await cpu.engine.release();
      await gpu.engine.release();
    }
  }
});

interface MetricLine {
  step: number;
  loss: number;
}

function trainOnCuda(dir: string, devices: string): { metrics: MetricLine[]; weights: Float32Array } {
  const runDir = path.join(dir, `devices-${devices}`);
  const r = runCli(["train", path.join(ROOT, "configs", "ci-tiny.yaml"), "--run-dir", runDir, "--device", "cuda", "--devices", devices, "--set", "train.steps=12", "--set", "train.sample_grid=0"], { cwd: dir, timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  const metrics = fs.readFileSync(path.join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as MetricLine);
  const manifest = JSON.parse(fs.readFileSync(path.join(runDir, "manifest.json"), "utf8")) as { backend: { device?: { provider: string }; workers: number; devices: string[] } };
  assert.equal(manifest.backend.device?.provider, "cuda");
  assert.equal(manifest.backend.workers, Number(devices));
  const steps = fs.readdirSync(path.join(runDir, "checkpoints")).filter((d) => /^step-\d+$/.test(d)).sort((p, q) => Number(p.slice(5)) - Number(q.slice(5)));
  const weights = new Float32Array(fs.readFileSync(path.join(runDir, "checkpoints", steps[steps.length - 1]!, "params.bin")).buffer.slice(0));
  return { metrics, weights };
}

const twoGpus = skip || (listGpus().length < 2 ? `needs two GPUs, nvidia-smi lists ${listGpus().length}` : false);

test("diffx train --devices 2 vs --devices 1 on CUDA: the same losses and final weights to 1e-3", { skip: twoGpus }, () => {
  const dir = tempDir("diffx-gpu-");
  const one = trainOnCuda(dir, "1");
  const two = trainOnCuda(dir, "2");
  assert.equal(two.metrics.length, one.metrics.length);
  one.metrics.forEach((m, i) => {
    const other = two.metrics[i]!;
    assert.equal(other.step, m.step);
    assert.ok(Math.abs(other.loss - m.loss) <= 1e-3 * Math.max(Math.abs(m.loss), 1e-6), `step ${m.step}: loss ${other.loss} (2 GPUs) vs ${m.loss} (1 GPU)`);
  });
  assert.equal(two.weights.length, one.weights.length);
  assert.ok(relL2(two.weights, one.weights) <= 1e-3, `final weights differ by ${relL2(two.weights, one.weights)} relative`);
});

test("sampling parity: the network on CUDA vs the CPU to 1e-3, and a 10-step DDIM sample to 2 levels", { skip }, async () => {
  const cpu = await onnxNetworkFromParams(model, init, { threads: os.availableParallelism(), device: CPU });
  const gpu = await onnxNetworkFromParams(model, init, { device: CUDA });
  try {
    assert.equal(gpu.session.provider, "cuda");
    const x = new Rng(3, "gpu-test-x").normals(B * R * R * 3);
    const t = Float32Array.from({ length: B }, (_, k) => Math.floor(((k + 0.5) * schedule.T) / B));
    const cond = new Float32Array(B).fill(1);
    const a = await cpu.run(x, t, {}, cond);
    const b = await gpu.run(x, t, {}, cond);
    assert.ok(relL2(b, a) <= 1e-3, `network output differs by ${relL2(b, a)} relative`);
    const request = { model, schedule, prediction: config.diffusion.prediction, sampler: { name: "ddim" as const, steps: 10, eta: 0 }, guidance: 1, seed: 5, tokenizer: null, conditions: Array.from({ length: 8 }, () => ({})), batchSize: 8 };
    const imgCpu = await generate({ ...request, session: cpu });
    const imgGpu = await generate({ ...request, session: gpu });
    let worst = 0;
    imgCpu.forEach((img, k) => img.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - imgGpu[k]!.data[i]!)))));
    console.log(`sampling: network output ${relL2(b, a).toExponential(2)} relative; DDIM-10 images differ by at most ${worst} levels`);
    assert.ok(worst <= 2, `DDIM-10 images differ by ${worst} levels`);
  } finally {
    cpu.dispose();
    gpu.dispose();
  }
});

test("throughput (printed, not asserted): training step and sampling, CPU vs CUDA", { skip }, async () => {
  const rows: string[] = ["| work | CPU | CUDA |", "|---|---|---|"];
  const time = async (fn: () => Promise<unknown>, reps: number): Promise<number> => {
    await fn(); // warm-up: cuDNN picks its algorithms on the first run
    const ms: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await fn();
      ms.push(performance.now() - t0);
    }
    return ms.sort((p, q) => p - q)[Math.floor(ms.length / 2)]!;
  };
  for (const batch of [B, 4 * B]) {
    const cells: string[] = [];
    for (const dev of [CPU, CUDA]) {
      const engine = await OnnxGradientEngine.create({ model, params: shapes, batch, objective, threads: os.availableParallelism(), device: dev });
      const flat = new Float32Array(engine.total + 1);
      const inp = inputsAt(0, batch);
      cells.push(`${(await time(() => engine.compute(params, inp, flat), dev.provider === "cpu" ? 3 : 10)).toFixed(1)} ms`);
      await engine.release();
    }
    rows.push(`| bench net loss + gradients, batch ${batch} | ${cells.join(" | ")} |`);
  }
  const cells: string[] = [];
  for (const dev of [CPU, CUDA]) {
    const net = await onnxNetworkFromParams(model, init, { threads: os.availableParallelism(), device: dev });
    const x = new Rng(4, "gpu-test-x").normals(64 * R * R * 3);
    const t = new Float32Array(64).fill(500);
    const cond = new Float32Array(64).fill(1);
    const ms = await time(() => net.run(x, t, {}, cond), dev.provider === "cpu" ? 3 : 10);
    cells.push(`${((64 * 1000) / ms / 25).toFixed(1)} images/s`);
    net.dispose();
  }
  rows.push(`| 25-step sampling, batch 64 (forward time × 25) | ${cells.join(" | ")} |`);
  console.log(`\n${rows.join("\n")}\n(TF32 ${process.env.NVIDIA_TF32_OVERRIDE === "0" ? "off" : "on"}; ${os.availableParallelism()} CPU threads)`);
});
