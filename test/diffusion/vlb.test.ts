import assert from "node:assert/strict";
import { test } from "node:test";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import {
  discretizedGaussianLogLikelihood,
  gaussianKl,
  priorBpd,
  qSampleArray,
  vlbOnBatch,
  vlbTermsBpd,
} from "../../src/diffusion/vlb.js";
import type { Denoiser } from "../../src/diffusion/samplers/types.js";
import { Rng } from "../../src/engine/rng.js";
import { assertClose, fixture } from "./fixture.js";

test("VLB terms (KL for t ≥ 1, discretised decoder NLL for t = 0) match the numpy/scipy reference", () => {
  assert.equal(fixture.vlb.cases.length, 4);
  for (const c of fixture.vlb.cases) {
    const schedule = makeSchedule({ schedule: c.schedule, timesteps: c.T });
    const got = vlbTermsBpd({
      schedule,
      prediction: c.prediction,
      x0: Float32Array.from(c.x0),
      xt: Float32Array.from(c.xt),
      modelOut: Float32Array.from(c.modelOut),
      t: c.t,
    });
    assertClose(got, c.bpd, 1e-9, 1e-12, `${c.schedule} T=${c.T} ${c.prediction} bpd`);
    assert.ok(got.every((v) => v > 0), "a wrong model has a positive bound term");
    assertClose(priorBpd(Float32Array.from(c.x0), c.t.length, schedule), c.prior, 1e-6, 1e-15, `${c.schedule} prior`);
  }
});

test("KL term is 0 when the model predicts the true posterior mean (eps and v models)", () => {
  const schedule = makeSchedule({ schedule: "cosine", timesteps: 200 });
  const rng = new Rng(7, "vlb-test");
  const t = [1, 2, 17, 100, 150, 199];
  const size = 12;
  const x0 = Float32Array.from({ length: t.length * size }, () => rng.range(-1, 1));
  const eps = rng.normals(t.length * size);
  const xt = qSampleArray(x0, eps, t, schedule);
  for (const prediction of ["eps", "v"] as const) {
    // The model output that gives x̂_0 = x_0, from the float64 relations of eq. 4 / Salimans & Ho §4.
    const modelOut = new Float32Array(xt.length);
    for (let b = 0; b < t.length; b++) {
      const a = schedule.sqrtAlphaBars[t[b]];
      const s = schedule.sqrtOneMinusAlphaBars[t[b]];
      for (let k = b * size; k < (b + 1) * size; k++) {
        const e = (xt[k] - a * x0[k]) / s; // the ε actually in x_t (after float32 rounding of x_t)
        modelOut[k] = prediction === "eps" ? e : a * e - s * x0[k];
      }
    }
    const bpd = vlbTermsBpd({ schedule, prediction, x0, xt, modelOut, t });
    for (const v of bpd) assert.ok(Math.abs(v) < 1e-9, `${prediction}: KL ${v} should be 0`);
  }
});

test("Gaussian KL and the discretised likelihood on hand-worked values", () => {
  // KL(N(0,1) ‖ N(1,1)) = 1/2; KL(N(0,1) ‖ N(0,e²)) = ½(−1 + 2 + e^{−2}) = ½(1 + e^{−2})
  assert.ok(Math.abs(gaussianKl(0, 0, 1, 0) - 0.5) < 1e-15);
  assert.ok(Math.abs(gaussianKl(0, 0, 0, 2) - 0.5 * (1 + Math.exp(-2))) < 1e-15);
  // A very wide Gaussian centred on x spreads mass evenly: a bin of width 2/255 has
  // P ≈ φ(0)·(2/255)/σ. With σ = 100: log(0.398942·0.0078431/100).
  const wide = discretizedGaussianLogLikelihood(0.2, 0.2, Math.log(100 * 100));
  assert.ok(Math.abs(wide - Math.log(0.3989422804014327 * (2 / 255) / 100)) < 1e-6);
  // A very narrow Gaussian (σ = 1e−4, the bin is ±39σ) on the bin centre puts all mass in the bin.
  assert.ok(Math.abs(discretizedGaussianLogLikelihood(0.2, 0.2, Math.log(1e-8))) < 1e-12);
  // Edge bins extend to ±∞: P(x = 1 | mean 1, σ = 1) = 1 − Φ(−1/255) ≈ ½ + φ(0)/255 (Taylor, error ~1e−9)
  assert.ok(Math.abs(discretizedGaussianLogLikelihood(1, 1, 0) - Math.log(0.5 + 0.3989422804014327 / 255)) < 2e-8);
  // and a far-off mean hits the 1e-12 floor instead of −∞
  assert.equal(discretizedGaussianLogLikelihood(-0.5, 50, 0), Math.log(1e-12));
});

test("vlbOnBatch runs the denoiser on q_sample(x0, ε, t) and averages", async () => {
  const schedule = makeSchedule({ schedule: "linear", timesteps: 100 });
  const t = [0, 30, 99];
  const size = 4;
  const rng = new Rng(3, "vlb-batch");
  const x0 = Float32Array.from({ length: t.length * size }, () => Math.round(rng.range(-127.5, 127.5)) / 127.5);
  const eps = rng.normals(t.length * size);
  const calls: number[][] = [];
  // An ε-model that answers 0: x̂_0 = x_t / √ᾱ.
  const zero: Denoiser = async (x, tt) => {
    calls.push(Array.from(tt));
    return new Float32Array(x.length);
  };
  const r = await vlbOnBatch(zero, x0, eps, t, schedule, "eps");
  assert.deepEqual(calls, [[0, 30, 99]]);
  const xt = qSampleArray(x0, eps, t, schedule);
  const direct = vlbTermsBpd({ schedule, prediction: "eps", x0, xt, modelOut: new Float32Array(x0.length), t });
  assert.deepEqual(Array.from(r.perSample), Array.from(direct));
  assert.ok(Math.abs(r.mean - (direct[0] + direct[1] + direct[2]) / 3) < 1e-15);
});
