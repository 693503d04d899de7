/** Pieces shared by the samplers. */
import { RuntimeFailure } from "../../errors.js";
import type { X0Eps } from "../parameterization.js";
import type { NoiseSchedule } from "../schedule.js";
import { trailingTimesteps } from "./timesteps.js";
import type { SamplerContext } from "./types.js";

/** Signal levels of step i: ᾱ at the current timestep and at the next (1 after the last step). */
export interface StepLevels {
  alphaBar: number;
  alphaBarNext: number;
}

/** The timestep plan of a run and the signal levels of each step. */
export class StepPlan {
  readonly timesteps: readonly number[];

  constructor(
    private readonly schedule: NoiseSchedule,
    steps: number,
  ) {
    this.timesteps = trailingTimesteps(schedule.T, steps);
  }

  get steps(): number {
    return this.timesteps.length;
  }

  levels(i: number): StepLevels {
    if (!Number.isInteger(i) || i < 0 || i >= this.timesteps.length) {
      throw new RuntimeFailure(`sampler step ${i} is outside [0, ${this.timesteps.length - 1}]`);
    }
    const alphaBar = this.schedule.alphaBars[this.timesteps[i]];
    // After the last step the sample is clean: ᾱ = 1 (diffusers' `set_alpha_to_one` / final σ = 0).
    const alphaBarNext = i + 1 < this.timesteps.length ? this.schedule.alphaBars[this.timesteps[i + 1]] : 1;
    return { alphaBar, alphaBarNext };
  }
}

/**
 * (x̂_0, ε̂) from the network output at signal level ᾱ, with optional clipping of x̂_0 to
 * [−clip, clip]; when clipped, ε̂ is recomputed from the clipped x̂_0 ([DDPM] eq. 4), so the
 * update stays consistent with x_t. In diffusers' DDIMScheduler that is `use_clipped_model_output=
 * True`; its default (False) clips x̂_0 but keeps the network's ε̂ for the direction term, so with
 * clipping on, these samplers match diffusers only with that flag set.
 *
 * The arithmetic is that of `outputToX0Eps` and `epsFromX0` (src/diffusion/parameterization.ts),
 * element for element in float64 and in the same order, so the results are bit-identical (a test
 * checks it); it is written out as plain loops because those functions build a pair and a closure
 * call per element, which cost 3–8 ms per step at batch 16 × 32×32×3 — a tenth of a network call
 * on onnxruntime.
 *
 * `reuse` (the value a previous call returned) is overwritten instead of allocating two new
 * arrays when it has the right length: a sampler run keeps its buffers across steps.
 */
export function predict(ctx: SamplerContext, x: Float32Array, modelOut: Float32Array, alphaBar: number, clip: number | undefined, reuse?: X0Eps | null): X0Eps {
  const n = x.length;
  if (modelOut.length !== n) throw new RuntimeFailure(`model output has ${modelOut.length} values but x_t has ${n}`);
  const a = Math.sqrt(alphaBar);
  const s = Math.sqrt(1 - alphaBar);
  const fits = reuse != null && reuse.x0.length === n && reuse.eps.length === n;
  const x0 = fits ? reuse.x0 : new Float64Array(n);
  const eps = fits ? reuse.eps : new Float64Array(n);
  if (ctx.prediction === "eps") {
    // [DDPM] eq. 4 solved for x_0: x̂_0 = (x_t − √(1−ᾱ) ε̂) / √ᾱ
    for (let k = 0; k < n; k++) {
      x0[k] = (x[k] - s * modelOut[k]) / a;
      eps[k] = modelOut[k];
    }
  } else {
    // Salimans & Ho 2022 §4: x̂_0 = √ᾱ x_t − √(1−ᾱ) v̂,  ε̂ = √(1−ᾱ) x_t + √ᾱ v̂
    for (let k = 0; k < n; k++) {
      x0[k] = a * x[k] - s * modelOut[k];
      eps[k] = s * x[k] + a * modelOut[k];
    }
  }
  if (clip !== undefined) {
    for (let k = 0; k < n; k++) {
      const c = Math.min(clip, Math.max(-clip, x0[k]));
      x0[k] = c;
      eps[k] = (x[k] - a * c) / s; // ε̂ = (x_t − √ᾱ x̂_0) / √(1 − ᾱ)
    }
  }
  return { x0, eps };
}

/** Throw unless a noise array of the right length was passed. */
export function requireNoise(noise: Float32Array | undefined, length: number, who: string, i: number): Float32Array {
  if (noise === undefined || noise.length !== length) {
    throw new RuntimeFailure(`${who} step ${i} needs ${length} noise values, got ${noise === undefined ? "none" : noise.length}`);
  }
  return noise;
}
