/**
 * The perceptual loss in metrics.jsonl (src/train/perceptual.ts) against a direct computation:
 * a real ci-tiny training logs it at step 4 (eval_every); the test rebuilds the same logging
 * batch (the first 8 pairs, the seeded Rng(seed, "perceptual") noise, t = ⌊f·T⌋ for f = 0.25,
 * 0.5, 0.75), runs the step-4 weights level by level through the tfjs model, forms x̂₀ from the
 * predicted ε by [DDPM] eq. 4, rounds x̂₀ and x₀ to 8-bit images, takes their features with the
 * domain extractor (loadExtractor("domain")) and averages the Euclidean distances. The run's
 * plots/loss.svg draws the curve beside the loss and the KL term.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadConfig } from "../../src/config/load.js";
import { openDataset } from "../../src/data/build.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { initBackend } from "../../src/engine/backend.js";
import { createImage, type Image } from "../../src/engine/image.js";
import { Rng } from "../../src/engine/rng.js";
import { loadExtractor } from "../../src/metrics/extractor.js";
import { forward } from "../../src/model/model.js";
import { Tokenizer } from "../../src/model/tokenizer.js";
import { disposeTensors, paramTensors, TfjsOps } from "../../src/nn/tfjs-ops.js";
import { checkpointDir, readCheckpoint } from "../../src/train/checkpoint.js";
import { loadTrainingSet } from "../../src/train/load-training-set.js";
import { stepInputs } from "../../src/train/step-inputs.js";
import { subset } from "../../src/train/training-set.js";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";

/** Floats in [−1, 1] → an 8-bit image, written out here rather than taken from src/engine. */
function image(x: ArrayLike<number>, R: number): Image {
  const img = createImage(R, R, 3);
  for (let i = 0; i < R * R * 3; i++) img.data[i] = Math.min(255, Math.max(0, Math.round((x[i] + 1) * 127.5)));
  return img;
}

test("metrics.jsonl's perceptual equals the domain features' distance of x̂₀ and x₀ computed directly on the same batch", async () => {
  const cwd = tempDir("diffx-perceptual-");
  const run = path.join(cwd, "run");
  const r = runCli(["-q", "train", path.join(ROOT, "configs", "ci-tiny.yaml"), "--run-dir", run, "--set", "train.steps=4", "--set", "train.sample_grid=0"], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const records = fs.readFileSync(path.join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; perceptual?: number; kl_bpd?: number });
  assert.deepEqual(records.filter((m) => m.perceptual !== undefined).map((m) => m.step), [4], "logged with the KL term, every eval_every (4) steps");
  const logged = records[3].perceptual as number;

  const { config } = loadConfig(path.join(run, "config.yaml"));
  const model = config.model;
  const R = model.resolution;
  const size = R * R * 3;
  await initBackend("wasm", { threads: 1 });
  const all = await loadTrainingSet(openDataset(config.dataset, { cwd }), R);
  const split = JSON.parse(fs.readFileSync(path.join(run, "split.json"), "utf8")) as { train: number[] };
  const data = subset(all, split.train, R);
  const tokenizer = Tokenizer.fromJSON(JSON.parse(fs.readFileSync(path.join(run, "tokenizer.json"), "utf8")), "tokenizer.json");
  const count = Math.min(8, data.n);
  assert.equal(count, 8);
  const rows = Array.from({ length: count }, (_, k) => k);
  const tokens = stepInputs(data, model, tokenizer, config.seed, -1, rows, rows, config.diffusion.timesteps, 0, false).tokens as Int32Array;
  const x0 = data.images.subarray(0, count * size);

  const schedule = makeSchedule(config.diffusion);
  const levels = [25, 50, 75]; // ⌊f·T⌋ for T = 100
  const noise = new Rng(config.seed, "perceptual").normals(levels.length * count * size);
  const params = paramTensors(readCheckpoint(checkpointDir(run, 4)).params);
  const ops = new TfjsOps(params);
  const extractor = await loadExtractor("domain");
  try {
    const real = await extractor.extract(rows.map((b) => image(x0.subarray(b * size, (b + 1) * size), R)));
    let total = 0;
    for (const [l, t] of levels.entries()) {
      const a = Math.sqrt(schedule.alphaBars[t]);
      const s = Math.sqrt(1 - schedule.alphaBars[t]);
      const eps = noise.subarray(l * count * size, (l + 1) * count * size);
      const xt = Float32Array.from(x0, (v, k) => a * v + s * eps[k]);
      const out = tf.tidy(() =>
        forward(ops, model, { x: tf.tensor(xt, [count, R, R, 3]), t: tf.fill([count], t), cond: tf.ones([count]), tokens: tf.tensor(tokens, [count, model.max_tokens], "int32") }),
      );
      const epsHat = out.dataSync();
      out.dispose();
      const x0Hat = Array.from(xt, (v, k) => (v - s * epsHat[k]) / a);
      const est = await extractor.extract(rows.map((b) => image(x0Hat.slice(b * size, (b + 1) * size), R)));
      for (let b = 0; b < count; b++) total += Math.hypot(...Array.from(est[b], (v, k) => v - real[b][k]));
    }
    const direct = total / (levels.length * count);
    assert.ok(direct > 0.1, `a 4-step model's x̂₀ is far from x₀ in feature space (${direct})`);
    // the logged value comes from one 24-row forward, the direct one from three 8-row forwards
    // (equal to the last bit here on wasm; the tolerance leaves room for float summation order)
    assert.ok(Math.abs(logged - direct) <= 1e-6 * direct, `logged ${logged} vs direct ${direct}`);
  } finally {
    disposeTensors(params);
    await extractor.release?.();
  }

  const svg = fs.readFileSync(path.join(run, "plots", "loss.svg"), "utf8");
  assert.match(svg, /perceptual \(domain features, x̂₀ vs x₀ at t = 25, 50, 75\)/);
  assert.match(svg, /KL L_t/);
});
