/**
 * The samplers' `predict` (written out as plain loops for speed) gives bit for bit what
 * parameterization.ts's `outputToX0Eps` + `epsFromX0` give, for both prediction types, with and
 * without x̂_0 clipping, at low and high noise.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { epsFromX0, outputToX0Eps, type Prediction } from "../../src/diffusion/parameterization.js";
import { predict } from "../../src/diffusion/samplers/common.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { Rng } from "../../src/engine/rng.js";
import { RuntimeFailure } from "../../src/errors.js";

const schedule = makeSchedule({ timesteps: 1000, schedule: "cosine" });

function reference(x: Float32Array, out: Float32Array, alphaBar: number, prediction: Prediction, clip: number | undefined) {
  const pred = outputToX0Eps(out, x, alphaBar, prediction);
  if (clip === undefined) return pred;
  const x0 = pred.x0.map((v) => Math.min(clip, Math.max(-clip, v)));
  return { x0, eps: epsFromX0(x0, x, alphaBar) };
}

test("predict equals outputToX0Eps + epsFromX0 bit for bit", () => {
  const n = 3 * 8 * 8 * 3;
  // scaled so that clipping at 1 hits a good share of the elements
  const x = new Rng(1, "predict", "x").normals(n).map((v) => 1.5 * v);
  const out = new Rng(1, "predict", "out").normals(n);
  for (const prediction of ["eps", "v"] as const) {
    for (const t of [0, 17, 500, 999]) {
      const alphaBar = schedule.alphaBars[t] as number;
      for (const clip of [undefined, 1, 0.25]) {
        const got = predict({ schedule, prediction }, x, out, alphaBar, clip);
        const want = reference(x, out, alphaBar, prediction, clip);
        const what = `${prediction} t=${t} clip=${String(clip)}`;
        assert.deepEqual(got.x0, want.x0, `${what}: x0`);
        assert.deepEqual(got.eps, want.eps, `${what}: eps`);
        if (clip !== undefined) assert.ok(got.x0.some((v) => Math.abs(v) === clip), `${what}: some x0 clipped`);
      }
    }
  }
});

test("predict refuses an output of the wrong length", () => {
  assert.throws(
    () => predict({ schedule, prediction: "eps" }, new Float32Array(4), new Float32Array(3), 0.5, undefined),
    (e: unknown) => e instanceof RuntimeFailure && /model output has 3 values but x_t has 4/.test(e.message),
  );
});

test("predict overwrites the buffers it is given when they fit, and only then", () => {
  const n = 48;
  const x = new Rng(2, "predict", "x").normals(n);
  const out = new Rng(2, "predict", "out").normals(n);
  const ctx = { schedule, prediction: "eps" as const };
  const first = predict(ctx, x, out, 0.3, 1);
  const kept = { x0: first.x0.slice(), eps: first.eps.slice() };
  const again = predict(ctx, x, out, 0.7, 1, first);
  assert.equal(again.x0, first.x0);
  assert.equal(again.eps, first.eps);
  assert.deepEqual(again.x0, predict(ctx, x, out, 0.7, 1).x0);
  assert.notDeepEqual(again.x0, kept.x0);
  const other = predict(ctx, x.subarray(0, 24), out.subarray(0, 24), 0.7, 1, first);
  assert.notEqual(other.x0, first.x0);
  assert.equal(other.x0.length, 24);
});
