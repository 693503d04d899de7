import assert from "node:assert/strict";
import { test } from "node:test";
import { UsageError } from "../../src/errors.js";
import { makeSchedule, MAX_BETA, scheduleFromBetas, type NoiseSchedule } from "../../src/diffusion/schedule.js";
import { trailingTimesteps } from "../../src/diffusion/samplers/timesteps.js";
import { assertClose, fixture } from "./fixture.js";

const FIELDS = [
  "betas",
  "alphas",
  "alphaBars",
  "alphaBarPrev",
  "sqrtAlphaBars",
  "sqrtOneMinusAlphaBars",
  "snr",
  "posteriorVariance",
  "posteriorLogVarianceClipped",
  "posteriorMeanCoefX0",
  "posteriorMeanCoefXt",
] as const satisfies readonly (keyof NoiseSchedule)[];

test("schedules match the numpy reference (linear and cosine, several T)", () => {
  assert.ok(fixture.schedules.length >= 6);
  for (const ref of fixture.schedules) {
    const s = makeSchedule({ schedule: ref.kind, timesteps: ref.T });
    assert.equal(s.T, ref.T);
    for (const field of FIELDS) {
      const got = ref.index.map((t) => s[field][t]);
      assertClose(got, ref.values[field], 1e-12, 1e-300, `${ref.kind} T=${ref.T} ${field}`);
    }
  }
});

test("hand-worked linear schedule ends: β_0 = 1e-4, β_999 = 0.02, ᾱ_0 = 0.9999 (T = 1000)", () => {
  const s = makeSchedule({ schedule: "linear", timesteps: 1000 });
  assert.ok(Math.abs(s.betas[0] - 1e-4) < 1e-18);
  assert.ok(Math.abs(s.betas[999] - 0.02) < 1e-16);
  assert.ok(Math.abs(s.alphaBars[0] - 0.9999) < 1e-16);
  assert.equal(s.alphaBarAt(-1), 1);
  assert.equal(s.posteriorVariance[0], 0); // β̃_0 = 0: no noise before clean data
});

test("cosine schedule: ᾱ follows f(t)/f(0) of improved-DDPM eq. 17 until the 0.999 clip bites", () => {
  const T = 1000;
  const s = makeSchedule({ schedule: "cosine", timesteps: T });
  const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  for (const t of [0, 1, 100, 500, 900]) {
    const direct = f((t + 1) / T) / f(0); // ᾱ of step t, index convention of schedule.ts
    assert.ok(Math.abs(s.alphaBars[t] - direct) <= 1e-12 * direct, `t=${t}: ${s.alphaBars[t]} vs ${direct}`);
  }
  assert.equal(s.betas[T - 1], MAX_BETA); // the last β is clipped
  assert.ok(s.alphaBars[T - 1] > 0);
});

test("scheduleFromBetas: tiny hand-worked case β = [0.5, 0.5]", () => {
  const s = scheduleFromBetas("linear", Float64Array.from([0.5, 0.5]));
  assert.deepEqual(Array.from(s.alphaBars), [0.5, 0.25]);
  // β̃_1 = (1 − 0.5)/(1 − 0.25) · 0.5 = 1/3
  assert.ok(Math.abs(s.posteriorVariance[1] - 1 / 3) < 1e-15);
  // μ̃_1 coefficients: √0.5·0.5/0.75 and √0.5·0.5/0.75
  assert.ok(Math.abs(s.posteriorMeanCoefX0[1] - Math.SQRT1_2 * 0.5 / 0.75) < 1e-15);
  assert.ok(Math.abs(s.posteriorMeanCoefXt[1] - Math.SQRT1_2 * 0.5 / 0.75) < 1e-15);
  assert.ok(Math.abs(s.snr[1] - 1 / 3) < 1e-15);
});

test("bad T is a usage error", () => {
  assert.throws(() => makeSchedule({ schedule: "cosine", timesteps: 0 }), UsageError);
  assert.throws(() => makeSchedule({ schedule: "linear", timesteps: 2.5 }), UsageError);
});

test("trailing timesteps equal numpy's round(arange(T, 0, -T/S)) - 1", () => {
  for (const ref of fixture.trailing) assert.deepEqual(trailingTimesteps(ref.T, ref.steps), ref.timesteps, `T=${ref.T} S=${ref.steps}`);
  assert.throws(() => trailingTimesteps(100, 0), UsageError);
  assert.throws(() => trailingTimesteps(100, 101), /sample\.steps/);
});
