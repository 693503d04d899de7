/**
 * DDPM ancestral sampling (Ho et al. 2020, Algorithm 2) on a possibly shortened timestep list.
 *
 * From timestep t to the next visited timestep t' (ᾱ' = ᾱ_{t'}, or 1 after the last step), the
 * step is the DDPM posterior q(x_{t'} | x_t, x̂_0) of the respaced process (Nichol & Dhariwal
 * 2021, §4: β'_t = 1 − ᾱ_t / ᾱ_{t'}), i.e. [DDPM] eq. 6–7 with β'_t:
 *   μ̃ = √ᾱ' β'_t / (1 − ᾱ_t) · x̂_0 + √(1 − β'_t) (1 − ᾱ') / (1 − ᾱ_t) · x_t      ([DDPM] eq. 7)
 *   σ² = β̃'_t = (1 − ᾱ') / (1 − ᾱ_t) · β'_t                                       ([DDPM] eq. 7)
 *   x_{t'} = μ̃ + σ z,  z ~ N(0, I)                                               ([DDPM] Alg. 2 line 4)
 * using the "fixed small" variance β̃ (as the VLB in vlb.ts). With all T steps this is exactly
 * DDPM; it equals DDIM with η = 1. The last step (ᾱ' = 1) returns x̂_0 without noise.
 */
import { predict, requireNoise, StepPlan } from "./common.js";
import type { X0Eps } from "../parameterization.js";
import type { Sampler, SamplerContext } from "./types.js";

export class DdpmSampler implements Sampler {
  readonly name = "ddpm" as const;
  readonly timesteps: readonly number[];
  private readonly plan: StepPlan;
  /** x̂_0/ε̂ buffers reused from step to step. */
  private buffers: X0Eps | null = null;

  constructor(
    private readonly ctx: SamplerContext,
    steps: number,
    private readonly clipX0?: number,
  ) {
    this.plan = new StepPlan(ctx.schedule, steps);
    this.timesteps = this.plan.timesteps;
  }

  needsNoise(i: number): boolean {
    return this.plan.levels(i).alphaBarNext < 1;
  }

  step(x: Float32Array, modelOut: Float32Array, i: number, noise?: Float32Array): Float32Array {
    const { alphaBar, alphaBarNext } = this.plan.levels(i);
    this.buffers = predict(this.ctx, x, modelOut, alphaBar, this.clipX0, this.buffers);
    const { x0 } = this.buffers;
    const betaStep = 1 - alphaBar / alphaBarNext; // β'_t of the respaced process
    const coefX0 = (Math.sqrt(alphaBarNext) * betaStep) / (1 - alphaBar);
    const coefXt = (Math.sqrt(1 - betaStep) * (1 - alphaBarNext)) / (1 - alphaBar);
    const variance = ((1 - alphaBarNext) / (1 - alphaBar)) * betaStep;
    const out = new Float32Array(x.length);
    if (variance > 0) {
      const z = requireNoise(noise, x.length, "DDPM", i);
      const std = Math.sqrt(variance);
      for (let k = 0; k < x.length; k++) out[k] = coefX0 * x0[k] + coefXt * x[k] + std * z[k];
    } else {
      for (let k = 0; k < x.length; k++) out[k] = coefX0 * x0[k] + coefXt * x[k];
    }
    return out;
  }
}
