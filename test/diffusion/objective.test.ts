import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import {
  diffusionLoss,
  lossWeights,
  objectiveConfig,
  outputToX0EpsTensors,
  predictionTarget,
  qSample,
  vTarget,
} from "../../src/diffusion/objective.js";
import { makeSchedule, scheduleFromBetas } from "../../src/diffusion/schedule.js";
import { RuntimeFailure } from "../../src/errors.js";
import { assertClose, fixture } from "./fixture.js";

before(async () => {
  await tf.setBackend("cpu");
});

// Two-step schedule β = [0.5, 0.5]: ᾱ = [0.5, 0.25], worked by hand below.
const tiny = scheduleFromBetas("linear", Float64Array.from([0.5, 0.5]));

test("q_sample on tiny numbers (DDPM eq. 4), worked by hand", () => {
  // Sample 0 at t = 0 (ᾱ = 0.5):  x_t = √0.5·x0 + √0.5·ε
  // Sample 1 at t = 1 (ᾱ = 0.25): x_t = 0.5·x0 + √0.75·ε
  const x0 = tf.tensor2d([[1, -2], [2, 0]]);
  const eps = tf.tensor2d([[0.5, 3], [1, -1]]);
  const xt = qSample(x0, eps, [0, 1], tiny);
  const r = Math.SQRT1_2;
  const s75 = Math.sqrt(0.75);
  assertClose(xt.dataSync(), [r * 1 + r * 0.5, r * -2 + r * 3, 0.5 * 2 + s75 * 1, 0 - s75], 1e-6, 1e-7, "x_t");
  tf.dispose([x0, eps, xt]);
});

test("q_sample at t = 0 of the DDPM linear schedule (ᾱ_0 = 0.9999), worked by hand", () => {
  const s = makeSchedule({ schedule: "linear", timesteps: 1000 });
  const x0 = tf.tensor4d([1, -2], [1, 1, 1, 2]);
  const eps = tf.tensor4d([0.5, 3], [1, 1, 1, 2]);
  const xt = qSample(x0, eps, [0], s);
  // √0.9999 = 0.99994999875, √0.0001 = 0.01
  assertClose(xt.dataSync(), [1.00494999875, -1.9698999975], 1e-6, 0, "x_t");
  assert.deepEqual(xt.shape, [1, 1, 1, 2]);
  const v = vTarget(x0, eps, [0], s);
  // v = √ᾱ ε − √(1−ᾱ) x0 = [0.499974999375 − 0.01, 2.99984999625 + 0.02]
  assertClose(v.dataSync(), [0.489974999375, 3.01984999625], 1e-6, 0, "v");
  tf.dispose([x0, eps, xt, v]);
});

test("v target on tiny numbers (Salimans & Ho 2022), worked by hand", () => {
  const x0 = tf.tensor2d([[2], [2]]);
  const eps = tf.tensor2d([[1], [1]]);
  // t = 0: √0.5·1 − √0.5·2 = −√0.5;  t = 1: 0.5·1 − √0.75·2
  const v = vTarget(x0, eps, [0, 1], tiny);
  assertClose(v.dataSync(), [-Math.SQRT1_2, 0.5 - 2 * Math.sqrt(0.75)], 1e-6, 1e-7, "v");
  const target = predictionTarget(x0, eps, [0, 1], { schedule: tiny, prediction: "eps", minSnrGamma: 0 });
  assert.deepEqual(Array.from(target.dataSync()), [1, 1]);
  tf.dispose([x0, eps, v, target]);
});

test("loss and min-SNR-γ weights match the numpy reference for eps and v", () => {
  const o = fixture.objective;
  const s = makeSchedule({ schedule: o.schedule, timesteps: o.T });
  const shape: [number, number] = [o.t.length, o.dim];
  const x0 = tf.tensor2d(o.x0, shape);
  const eps = tf.tensor2d(o.eps, shape);
  const pred = tf.tensor2d(o.predicted, shape);
  for (const c of o.cases) {
    const cfg = objectiveConfig(s, { prediction: c.prediction, min_snr_gamma: c.gamma });
    assertClose(lossWeights(o.t, cfg), c.weights, 1e-12, 0, `weights ${c.prediction} γ=${c.gamma}`);
    const loss = diffusionLoss(pred, x0, eps, o.t, cfg);
    assert.equal(loss.rank, 0);
    assertClose([loss.dataSync()[0]], [c.loss], 1e-5, 0, `loss ${c.prediction} γ=${c.gamma}`);
    loss.dispose();
  }
  tf.dispose([x0, eps, pred]);
});

test("min-SNR weights, hand-worked: SNR = 1/3 at t = 1 of β = [0.5, 0.5], γ = 0.1", () => {
  // eps: min(1/3, 0.1)/(1/3) = 0.3;  v: 0.1/(1/3 + 1) = 0.075
  assertClose(lossWeights([1], { schedule: tiny, prediction: "eps", minSnrGamma: 0.1 }), [0.3], 1e-12, 0, "eps");
  assertClose(lossWeights([1], { schedule: tiny, prediction: "v", minSnrGamma: 0.1 }), [0.075], 1e-12, 0, "v");
  // γ above the SNR leaves eps weights at 1
  assertClose(lossWeights([0, 1], { schedule: tiny, prediction: "eps", minSnrGamma: 5 }), [1, 1], 1e-12, 0, "eps big γ");
});

test("the loss is zero for the exact target and differentiable w.r.t. the prediction", () => {
  const s = makeSchedule({ schedule: "cosine", timesteps: 50 });
  const x0 = tf.tensor4d(Float32Array.from([0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]), [2, 2, 2, 1]);
  const eps = tf.tensor4d(Float32Array.from([1, -1, 0.5, -0.5, 2, 0, -2, 0.25]), [2, 2, 2, 1]);
  const t = [3, 40];
  for (const prediction of ["eps", "v"] as const) {
    const cfg = { schedule: s, prediction, minSnrGamma: 5 };
    const target = predictionTarget(x0, eps, t, cfg);
    const zero = diffusionLoss(target, x0, eps, t, cfg);
    assert.ok(Math.abs(zero.dataSync()[0]) < 1e-12);
    const p = tf.variable(tf.zerosLike(target));
    const { value, grads } = tf.variableGrads(() => diffusionLoss(p, x0, eps, t, cfg), [p]);
    // d/dp of mean_b w_b mean_k (p − y)² = 2 w_b (p − y) / (B · K)
    const w = lossWeights(t, cfg);
    const y = target.dataSync();
    const g = grads[p.name].dataSync();
    const expected = Array.from(y, (yk, k) => (2 * w[Math.floor(k / 4)] * (0 - yk)) / 8);
    assertClose(g, expected, 1e-5, 1e-7, `grad ${prediction}`);
    tf.dispose([target, zero, p, value, grads[p.name]]);
  }
  tf.dispose([x0, eps]);
});

test("outputs convert back to (x̂_0, ε̂) for eps and v", () => {
  const s = makeSchedule({ schedule: "cosine", timesteps: 100 });
  const x0 = tf.tensor2d([[0.3, -0.7], [0.9, 0.1], [-1, 1]]);
  const eps = tf.tensor2d([[1.5, -0.2], [0.4, -2], [0.3, 0.3]]);
  const t = [0, 50, 98];
  const xt = qSample(x0, eps, t, s);
  for (const prediction of ["eps", "v"] as const) {
    const out = predictionTarget(x0, eps, t, { schedule: s, prediction, minSnrGamma: 0 });
    const r = outputToX0EpsTensors(out, xt, t, s, prediction);
    assertClose(r.x0.dataSync(), x0.dataSync(), 0, 2e-4, `x0 ${prediction}`); // float32 at ᾱ ≈ 5e-4 for t = 98
    assertClose(r.eps.dataSync(), eps.dataSync(), 0, 1e-4, `eps ${prediction}`);
    tf.dispose([out, r.x0, r.eps]);
  }
  tf.dispose([x0, eps, xt]);
});

test("no tensors leak and bad timesteps are refused", () => {
  const s = makeSchedule({ schedule: "linear", timesteps: 100 });
  const x0 = tf.ones([2, 4, 4, 3]);
  const eps = tf.zeros([2, 4, 4, 3]);
  const cfg = { schedule: s, prediction: "v" as const, minSnrGamma: 5 };
  const before = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) {
    const xt = qSample(x0, eps, [1, 2], s);
    const loss = diffusionLoss(xt, x0, eps, [1, 2], cfg);
    tf.dispose([xt, loss]);
  }
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => qSample(x0, eps, [1, 100], s), RuntimeFailure);
  assert.throws(() => qSample(x0, eps, [1], s), /2 timesteps|1 timesteps/);
  const wrong = tf.ones([2, 4, 4, 1]);
  assert.throws(() => diffusionLoss(wrong, x0, eps, [1, 2], cfg), /one shape/);
  wrong.dispose();
  assert.equal(tf.memory().numTensors, before); // refused calls leave nothing behind either
  tf.dispose([x0, eps]);
});
