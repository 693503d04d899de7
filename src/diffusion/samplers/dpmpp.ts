/**
 * DPM-Solver++(2M) (Lu, Zhou, Bao, Chen, Li, Zhu, "DPM-Solver++: Fast Solver for Guided
 * Sampling of Diffusion Probabilistic Models", 2022, Algorithm 2), data-prediction form.
 *
 * VP process: α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), λ_t = log(α_t / σ_t) (half log-SNR). With x̂_0 the
 * data prediction at the current timestep t_{i−1} and t_i the next, h_i = λ_{t_i} − λ_{t_{i−1}}:
 *   first order (Alg. 2, the i = 1 line; = DDIM η = 0):
 *     x_{t_i} = (σ_{t_i} / σ_{t_{i−1}}) x_{t_{i−1}} − α_{t_i} (e^{−h_i} − 1) x̂_0
 *   second order (Alg. 2, loop body), with the previous data prediction x̂_0^{prev}:
 *     r_i = h_{i−1} / h_i,  D_i = (1 + 1/(2 r_i)) x̂_0 − (1/(2 r_i)) x̂_0^{prev}
 *     x_{t_i} = (σ_{t_i} / σ_{t_{i−1}}) x_{t_{i−1}} − α_{t_i} (e^{−h_i} − 1) D_i
 * The first step has no previous prediction, so it is first order (as in Alg. 2). The last step
 * goes to the clean sample (σ = 0, λ = ∞, h = ∞), where the second-order correction is
 * undefined; it is first order too, which gives x = x̂_0 (diffusers' `lower_order_final` with
 * `final_sigmas_type="zero"`).
 */
import { RuntimeFailure } from "../../errors.js";
import { predict, StepPlan } from "./common.js";
import type { X0Eps } from "../parameterization.js";
import type { Sampler, SamplerContext } from "./types.js";

export class DpmSolverPP2MSampler implements Sampler {
  readonly name = "dpmpp" as const;
  readonly timesteps: readonly number[];
  private readonly plan: StepPlan;
  /** x̂_0 of the previous step and λ at the previous step's timestep. */
  private prev: { i: number; x0: Float64Array; lambda: number } | null = null;
  /** x̂_0/ε̂ buffers of the step before the previous one, free to be overwritten. */
  private spare: X0Eps | null = null;
  /** The buffers `prev.x0` lives in. */
  private current: X0Eps | null = null;

  constructor(
    private readonly ctx: SamplerContext,
    steps: number,
    private readonly clipX0?: number,
  ) {
    this.plan = new StepPlan(ctx.schedule, steps);
    this.timesteps = this.plan.timesteps;
  }

  needsNoise(): boolean {
    return false;
  }

  step(x: Float32Array, modelOut: Float32Array, i: number): Float32Array {
    const expected = this.prev === null ? 0 : this.prev.i + 1;
    if (i !== expected) {
      throw new RuntimeFailure(`DPM-Solver++ steps must run in order: got step ${i}, expected ${expected} (use a fresh sampler per run)`);
    }
    const { alphaBar, alphaBarNext } = this.plan.levels(i);
    const pred = predict(this.ctx, x, modelOut, alphaBar, this.clipX0, this.spare);
    const { x0 } = pred;
    const alphaCur = Math.sqrt(alphaBar);
    const sigmaCur = Math.sqrt(1 - alphaBar);
    const lambdaCur = Math.log(alphaCur / sigmaCur);
    const out = new Float32Array(x.length);

    if (alphaBarNext >= 1) {
      // Final step to σ = 0: first order with e^{−h} = 0, σ_next = 0, α_next = 1 ⇒ x = x̂_0.
      for (let k = 0; k < x.length; k++) out[k] = x0[k];
    } else {
      const alphaNext = Math.sqrt(alphaBarNext);
      const sigmaNext = Math.sqrt(1 - alphaBarNext);
      const h = Math.log(alphaNext / sigmaNext) - lambdaCur; // h_i = λ_{t_i} − λ_{t_{i−1}}
      const ratio = sigmaNext / sigmaCur; // σ_{t_i} / σ_{t_{i−1}}
      const coefD = -alphaNext * Math.expm1(-h); // −α_{t_i} (e^{−h_i} − 1)
      if (this.prev === null) {
        // First order (Alg. 2, first step).
        for (let k = 0; k < x.length; k++) out[k] = ratio * x[k] + coefD * x0[k];
      } else {
        // Second order (Alg. 2 loop): r_i = h_{i−1} / h_i, D_i = (1 + 1/(2r)) x̂_0 − 1/(2r) x̂_0^{prev}.
        const r = (lambdaCur - this.prev.lambda) / h;
        const c = 1 / (2 * r);
        const prevX0 = this.prev.x0;
        if (prevX0.length !== x.length) {
          throw new RuntimeFailure(`DPM-Solver++ step ${i}: batch changed from ${prevX0.length} to ${x.length} values`);
        }
        for (let k = 0; k < x.length; k++) out[k] = ratio * x[k] + coefD * ((1 + c) * x0[k] - c * prevX0[k]);
      }
    }
    this.prev = { i, x0, lambda: lambdaCur };
    this.spare = this.current;
    this.current = pred;
    return out;
  }
}
