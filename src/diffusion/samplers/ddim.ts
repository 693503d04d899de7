/**
 * DDIM (Song, Meng, Ermon, "Denoising Diffusion Implicit Models", ICLR 2021).
 *
 * From timestep t (ᾱ_t) to the next visited timestep (ᾱ', or 1 after the last step), eq. 12
 * (their α is our ᾱ):
 *   x' = √ᾱ' x̂_0 + √(1 − ᾱ' − σ²) ε̂ + σ z,   x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t  (eq. 9)
 *   σ = η √((1 − ᾱ') / (1 − ᾱ_t)) √(1 − ᾱ_t / ᾱ')                                   (eq. 16)
 * η = 0 is the deterministic DDIM; η = 1 is DDPM's ancestral step. For η > 1 the direction
 * coefficient √(1 − ᾱ' − σ²) would be imaginary; it is floored at 0.
 */
import { UsageError } from "../../errors.js";
import { predict, requireNoise, StepPlan } from "./common.js";
import type { X0Eps } from "../parameterization.js";
import type { Sampler, SamplerContext } from "./types.js";

export class DdimSampler implements Sampler {
  readonly name = "ddim" as const;
  readonly timesteps: readonly number[];
  private readonly plan: StepPlan;
  /** x̂_0/ε̂ buffers reused from step to step. */
  private buffers: X0Eps | null = null;

  constructor(
    private readonly ctx: SamplerContext,
    steps: number,
    private readonly eta: number,
    private readonly clipX0?: number,
  ) {
    if (!(eta >= 0) || !Number.isFinite(eta)) throw new UsageError(`sample.eta must be a number ≥ 0, got ${String(eta)}`);
    this.plan = new StepPlan(ctx.schedule, steps);
    this.timesteps = this.plan.timesteps;
  }

  private sigma(alphaBar: number, alphaBarNext: number): number {
    // eq. 16
    return this.eta * Math.sqrt((1 - alphaBarNext) / (1 - alphaBar)) * Math.sqrt(1 - alphaBar / alphaBarNext);
  }

  needsNoise(i: number): boolean {
    const { alphaBar, alphaBarNext } = this.plan.levels(i);
    return this.sigma(alphaBar, alphaBarNext) > 0;
  }

  step(x: Float32Array, modelOut: Float32Array, i: number, noise?: Float32Array): Float32Array {
    const { alphaBar, alphaBarNext } = this.plan.levels(i);
    this.buffers = predict(this.ctx, x, modelOut, alphaBar, this.clipX0, this.buffers);
    const { x0, eps } = this.buffers;
    const sigma = this.sigma(alphaBar, alphaBarNext);
    const a = Math.sqrt(alphaBarNext);
    const dir = Math.sqrt(Math.max(0, 1 - alphaBarNext - sigma * sigma));
    const out = new Float32Array(x.length);
    if (sigma > 0) {
      const z = requireNoise(noise, x.length, "DDIM", i);
      for (let k = 0; k < x.length; k++) out[k] = a * x0[k] + dir * eps[k] + sigma * z[k]; // eq. 12
    } else {
      for (let k = 0; k < x.length; k++) out[k] = a * x0[k] + dir * eps[k]; // eq. 12, σ = 0
    }
    return out;
  }
}
