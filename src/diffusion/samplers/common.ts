/** Pieces shared by the samplers. */
import { RuntimeFailure } from "../../errors.js";
import { epsFromX0, outputToX0Eps, type X0Eps } from "../parameterization.js";
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
 * [−clip, clip]; when clipped, ε̂ is recomputed from the clipped x̂_0 ([DDPM] eq. 4) as diffusers'
 * DDIM does, so the update stays consistent with x_t.
 */
export function predict(ctx: SamplerContext, x: Float32Array, modelOut: Float32Array, alphaBar: number, clip: number | undefined): X0Eps {
  const pred = outputToX0Eps(modelOut, x, alphaBar, ctx.prediction);
  if (clip === undefined) return pred;
  const x0 = pred.x0.map((v) => Math.min(clip, Math.max(-clip, v)));
  return { x0, eps: epsFromX0(x0, x, alphaBar) };
}

/** Throw unless a noise array of the right length was passed. */
export function requireNoise(noise: Float32Array | undefined, length: number, who: string, i: number): Float32Array {
  if (noise === undefined || noise.length !== length) {
    throw new RuntimeFailure(`${who} step ${i} needs ${length} noise values, got ${noise === undefined ? "none" : noise.length}`);
  }
  return noise;
}
