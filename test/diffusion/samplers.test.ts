import assert from "node:assert/strict";
import { test } from "node:test";
import type { Prediction } from "../../src/diffusion/parameterization.js";
import { makeSchedule, type NoiseSchedule } from "../../src/diffusion/schedule.js";
import {
  createSampler,
  guide,
  guidedDenoiser,
  sample,
  seededNoise,
  type Denoiser,
  type NoiseSource,
  type SamplerSettings,
} from "../../src/diffusion/samplers/index.js";
import { RuntimeFailure } from "../../src/errors.js";
import { assertClose, fixture } from "./fixture.js";

const PREDICTIONS: readonly Prediction[] = ["eps", "v"];

/** The exact denoiser for a one-point data set x_0 = c: ε = (x_t − √ᾱ c)/√(1 − ᾱ), v = √ᾱ ε − √(1−ᾱ) c. */
function onePointOracle(schedule: NoiseSchedule, c: number, prediction: Prediction): Denoiser {
  return async (x, t) => {
    const size = x.length / t.length;
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const ab = schedule.alphaBars[t[Math.floor(k / size)]];
      const eps = (x[k] - Math.sqrt(ab) * c) / Math.sqrt(1 - ab);
      out[k] = prediction === "eps" ? eps : Math.sqrt(ab) * eps - Math.sqrt(1 - ab) * c;
    }
    return out;
  };
}

/**
 * The exact denoiser for Gaussian data x_0 ~ N(μ, s²) per dimension. x_t ~ N(√ᾱ μ, ᾱ s² + 1 − ᾱ),
 * E[ε | x_t] = √(1−ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ), E[x_0 | x_t] = μ + √ᾱ s² (x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ).
 */
function gaussianOracle(schedule: NoiseSchedule, mu: number, sd: number, prediction: Prediction): Denoiser {
  return async (x, t) => {
    const size = x.length / t.length;
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) {
      const ab = schedule.alphaBars[t[Math.floor(k / size)]];
      const a = Math.sqrt(ab);
      const s = Math.sqrt(1 - ab);
      const varT = ab * sd * sd + 1 - ab;
      const eps = (s * (x[k] - a * mu)) / varT;
      const x0 = mu + (a * sd * sd * (x[k] - a * mu)) / varT;
      out[k] = prediction === "eps" ? eps : a * eps - s * x0;
    }
    return out;
  };
}

function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

test("one step of DDPM and DDIM (η = 0, 0.5, 1) equals the numpy hand-worked update, eps and v", () => {
  const f = fixture.samplerSteps;
  const schedule = makeSchedule({ schedule: f.schedule, timesteps: f.T });
  const x = Float32Array.from(f.x);
  assert.ok(f.cases.length >= 24);
  for (const c of f.cases) {
    const settings: SamplerSettings = { name: c.sampler, steps: f.steps, eta: c.eta };
    const sampler = createSampler(settings, { schedule, prediction: c.prediction });
    assert.deepEqual(sampler.timesteps, f.timesteps);
    const noise = sampler.needsNoise(c.i) ? Float32Array.from(f.noises[c.i]) : undefined;
    const got = sampler.step(x, Float32Array.from(f.outs[c.i]), c.i, noise);
    assertClose(got, c.expected, 1e-5, 1e-5, `${c.sampler} η=${c.eta ?? "-"} ${c.prediction} step ${c.i}`);
  }
});

test("DPM-Solver++(2M) over 4 steps equals the numpy reference (diffusers' midpoint form), eps and v", () => {
  const f = fixture.samplerSteps;
  const schedule = makeSchedule({ schedule: f.schedule, timesteps: f.T });
  for (const prediction of PREDICTIONS) {
    const sampler = createSampler({ name: "dpmpp", steps: f.steps }, { schedule, prediction });
    let x: Float32Array = Float32Array.from(f.x);
    for (let i = 0; i < f.steps; i++) {
      assert.equal(sampler.needsNoise(i), false);
      x = sampler.step(x, Float32Array.from(f.outs[i]), i);
      assertClose(x, f.dpmpp[prediction][i], 1e-5, 1e-5, `dpmpp ${prediction} after step ${i}`);
    }
    assert.throws(() => sampler.step(x, Float32Array.from(f.outs[0]), 0), RuntimeFailure); // out of order
  }
});

test("DDPM ancestral step equals DDIM with η = 1 (the same posterior)", () => {
  const schedule = makeSchedule({ schedule: "linear", timesteps: 1000 });
  const x = Float32Array.from([0.3, -1.2, 2.0, 0.0]);
  const out = Float32Array.from([0.1, 0.5, -0.7, 1.1]);
  const z = Float32Array.from([1.0, -0.3, 0.2, -2.0]);
  for (const prediction of PREDICTIONS) {
    const ddpm = createSampler({ name: "ddpm", steps: 10 }, { schedule, prediction });
    const ddim = createSampler({ name: "ddim", steps: 10, eta: 1 }, { schedule, prediction });
    for (const i of [0, 4, 8]) assertClose(ddpm.step(x, out, i, z), ddim.step(x, out, i, z), 1e-6, 1e-6, `${prediction} step ${i}`);
  }
});

test("with the exact ε (or v) of a one-point data set, DDIM η = 0, DPM-Solver++ and DDPM land on the point", async () => {
  const c = 0.37;
  const sampleSize = 6;
  for (const schedule of [makeSchedule({ schedule: "cosine", timesteps: 1000 }), makeSchedule({ schedule: "linear", timesteps: 100 })]) {
    for (const prediction of PREDICTIONS) {
      for (const sampler of [
        { name: "ddim", steps: 10, eta: 0 },
        { name: "ddim", steps: 2 },
        { name: "dpmpp", steps: 10 },
        { name: "dpmpp", steps: 3 },
        { name: "ddpm", steps: 25 },
      ] satisfies SamplerSettings[]) {
        const x = await sample({
          denoiser: onePointOracle(schedule, c, prediction),
          schedule,
          prediction,
          sampler,
          noise: seededNoise(11, sampleSize),
          samples: range(4),
          sampleSize,
        });
        const what = `${schedule.kind} T=${schedule.T} ${prediction} ${sampler.name}×${sampler.steps}`;
        assertClose(x, new Array<number>(x.length).fill(c), 0, 1e-4, what);
      }
    }
  }
});

test("DDIM with η = 0 is deterministic and uses no noise", async () => {
  const schedule = makeSchedule({ schedule: "cosine", timesteps: 200 });
  const denoiser = gaussianOracle(schedule, 0.2, 0.5, "eps");
  let stepNoiseCalls = 0;
  const base = seededNoise(5, 16);
  const counting: NoiseSource = {
    initial: (i) => base.initial(i),
    step: (i, k) => {
      stepNoiseCalls++;
      return base.step(i, k);
    },
  };
  const run = () =>
    sample({ denoiser, schedule, prediction: "eps", sampler: { name: "ddim", steps: 8 }, noise: counting, samples: range(3), sampleSize: 16 });
  const a = await run();
  const b = await run();
  assert.deepEqual(a, b);
  assert.equal(stepNoiseCalls, 0);
  // the initial noise does matter: another seed gives another result
  const other = await sample({ denoiser, schedule, prediction: "eps", sampler: { name: "ddim", steps: 8 }, noise: seededNoise(6, 16), samples: range(3), sampleSize: 16 });
  assert.notDeepEqual(other, a);
});

test("sample i is bit-identical whether generated alone or in batches of 3 or 8 (noise depends only on (seed, i))", async () => {
  const schedule = makeSchedule({ schedule: "cosine", timesteps: 100 });
  const size = 10;
  for (const prediction of PREDICTIONS) {
    for (const sampler of [
      { name: "ddpm", steps: 12 },
      { name: "ddim", steps: 6, eta: 0.7 },
      { name: "dpmpp", steps: 6 },
    ] satisfies SamplerSettings[]) {
      const denoiser = gaussianOracle(schedule, -0.3, 0.4, prediction);
      const run = (samples: number[]) =>
        sample({ denoiser, schedule, prediction, sampler, noise: seededNoise(42, size), samples, sampleSize: size });
      const all = await run(range(8));
      const singles = await Promise.all(range(8).map((i) => run([i])));
      const threes = [...(await run([0, 1, 2])), ...(await run([3, 4, 5])), ...(await run([6, 7]))];
      const shuffled = await run([7, 2, 5]);
      for (let i = 0; i < 8; i++) {
        const ref = all.subarray(i * size, (i + 1) * size);
        assert.deepEqual(singles[i], ref, `${sampler.name} ${prediction}: sample ${i} alone`);
        assert.deepEqual(Float32Array.from(threes.slice(i * size, (i + 1) * size)), ref, `${sampler.name} ${prediction}: sample ${i} in 3s`);
      }
      assert.deepEqual(shuffled.subarray(0, size), all.subarray(7 * size, 8 * size));
      assert.deepEqual(shuffled.subarray(size, 2 * size), all.subarray(2 * size, 3 * size));
      assert.notDeepEqual(all.subarray(0, size), all.subarray(size, 2 * size));
    }
  }
});

test("Gaussian toy: with the analytic oracle each sampler recovers the data mean and std", async () => {
  const mu = 0.5;
  const sd = 0.3;
  const schedule = makeSchedule({ schedule: "cosine", timesteps: 1000 });
  const n = 100;
  const size = 40; // 4000 draws: standard error of the mean 0.0047, of the std ≈ 0.0034
  for (const prediction of PREDICTIONS) {
    for (const sampler of [
      { name: "ddim", steps: 100, eta: 0 },
      { name: "ddim", steps: 250, eta: 0.5 },
      { name: "dpmpp", steps: 25 },
      { name: "ddpm", steps: 250 },
    ] satisfies SamplerSettings[]) {
      const x = await sample({
        denoiser: gaussianOracle(schedule, mu, sd, prediction),
        schedule,
        prediction,
        sampler,
        noise: seededNoise(2024, size),
        samples: range(n),
        sampleSize: size,
      });
      let sum = 0;
      for (const v of x) sum += v;
      const mean = sum / x.length;
      let ss = 0;
      for (const v of x) ss += (v - mean) ** 2;
      const std = Math.sqrt(ss / (x.length - 1));
      const what = `${prediction} ${sampler.name}×${sampler.steps}: mean ${mean.toFixed(4)} std ${std.toFixed(4)}`;
      assert.ok(Math.abs(mean - mu) < 0.02, what);
      assert.ok(Math.abs(std - sd) < 0.02, what);
    }
  }
});

test("Gaussian toy, probability-flow ODE: DDIM converges at first order, DPM-Solver++(2M) at second order to the exact transport", async () => {
  // For x_0 ~ N(μ, s²) the marginals stay Gaussian and the deterministic (probability-flow)
  // sampler maps x_T to x_0 by keeping its z-score: x_0 = μ + s (x_T − √ᾱ_T μ) / √(ᾱ_T s² + 1 − ᾱ_T).
  const mu = 0.5;
  const sd = 0.3;
  const schedule = makeSchedule({ schedule: "cosine", timesteps: 1000 });
  const size = 50;
  const noise = seededNoise(1, size);
  const xT = noise.initial(0);
  const abT = schedule.alphaBars[999];
  const exact = Array.from(xT, (x) => mu + (sd * (x - Math.sqrt(abT) * mu)) / Math.sqrt(abT * sd * sd + 1 - abT));
  for (const prediction of PREDICTIONS) {
    const error = async (name: "ddim" | "dpmpp", steps: number) => {
      const x = await sample({ denoiser: gaussianOracle(schedule, mu, sd, prediction), schedule, prediction, sampler: { name, steps }, noise, samples: [0], sampleSize: size });
      let e = 0;
      for (let k = 0; k < size; k++) e = Math.max(e, Math.abs(x[k] - exact[k]));
      return e;
    };
    const ddim = [await error("ddim", 20), await error("ddim", 40), await error("ddim", 80)];
    for (const ratio of [ddim[0] / ddim[1], ddim[1] / ddim[2]]) assert.ok(ratio > 1.7 && ratio < 2.3, `${prediction} DDIM halving ratio ${ratio}`);
    const dpm10 = await error("dpmpp", 10);
    const dpm160 = await error("dpmpp", 160);
    // 16× the steps: a second-order method gains ≈ 256×, a first-order one 16×.
    assert.ok(dpm10 / dpm160 > 150, `${prediction} DPM-Solver++ gained only ${dpm10 / dpm160}× from 10 to 160 steps`);
    assert.ok((await error("dpmpp", 40)) < ddim[1] / 10, `${prediction} DPM-Solver++ should beat DDIM by far at 40 steps`);
  }
});

test("classifier-free guidance: uncond + w·(cond − uncond), one doubled batch", async () => {
  assertClose(guide(Float32Array.from([1, 2]), Float32Array.from([0, 4]), 3), [3, -2], 0, 1e-7, "guide");
  assertClose(guide(Float32Array.from([1, 2]), Float32Array.from([0, 4]), 1), [1, 2], 0, 0, "w = 1 is conditional");
  assertClose(guide(Float32Array.from([1, 2]), Float32Array.from([0, 4]), 0), [0, 4], 0, 0, "w = 0 is unconditional");
  const seen: { x: number[]; t: number[] }[] = [];
  // A "network" whose conditional half adds 1 and null half subtracts 1.
  const pairNet: Denoiser = async (x, t) => {
    seen.push({ x: Array.from(x), t: Array.from(t) });
    const half = x.length / 2;
    return Float32Array.from(x, (v, k) => (k < half ? v + 1 : v - 1));
  };
  const guided = guidedDenoiser(pairNet, 2.5);
  const out = await guided(Float32Array.from([10, 20, 30, 40]), Float32Array.from([7, 7]));
  assert.deepEqual(seen, [{ x: [10, 20, 30, 40, 10, 20, 30, 40], t: [7, 7, 7, 7] }]);
  // (v − 1) + 2.5·((v + 1) − (v − 1)) = v + 4
  assert.deepEqual(Array.from(out), [14, 24, 34, 44]);
});

test("clipX0 bounds x̂_0 and changes nothing when x̂_0 is already inside", async () => {
  const schedule = makeSchedule({ schedule: "cosine", timesteps: 100 });
  const run = (c: number, clipX0?: number) =>
    sample({ denoiser: onePointOracle(schedule, c, "eps"), schedule, prediction: "eps", sampler: { name: "ddim", steps: 5, clipX0 }, noise: seededNoise(3, 4), samples: [0, 1], sampleSize: 4 });
  assertClose(await run(3, 1), new Array<number>(8).fill(1), 0, 1e-5, "clipped to 1");
  assertClose(await run(0.5, 1), await run(0.5), 0, 1e-6, "inside the bound");
  assert.throws(() => createSampler({ name: "dpmpp", steps: 5, clipX0: 0 }, { schedule, prediction: "eps" }), /clipping/);
});

test("bad settings are refused with a clear error", () => {
  const schedule = makeSchedule({ schedule: "cosine", timesteps: 50 });
  const ctx = { schedule, prediction: "eps" as const };
  assert.throws(() => createSampler({ name: "ddim", steps: 51 }, ctx), /sample\.steps/);
  assert.throws(() => createSampler({ name: "ddim", steps: 5, eta: -1 }, ctx), /sample\.eta/);
  const ddpm = createSampler({ name: "ddpm", steps: 5 }, ctx);
  assert.throws(() => ddpm.step(new Float32Array(2), new Float32Array(2), 0), /needs 2 noise values/);
  assert.throws(() => ddpm.step(new Float32Array(2), new Float32Array(2), 5), /outside/);
});
