/**
 * Terms of the variational bound, in bits per dimension, for logging on a fixed held-out batch.
 *
 * [DDPM] eq. 5 splits the negative ELBO into
 *   L_T = KL(q(x_T | x_0) ‖ p(x_T))                          (prior term, no parameters)
 *   L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t))  for t > 1
 *   L_0 = −log p_θ(x_0 | x_1)                                 (decoder)
 * In our 0-based timesteps (schedule.ts) the model evaluated at timestep t contributes L_t:
 * the KL term for t ≥ 1 and the decoder NLL for t = 0.
 *
 * p_θ(x_{t−1} | x_t) = N(μ_θ, σ_t² I) with the FIXED variance σ_t² = β̃_t ([DDPM] §3.2: the
 * "fixedsmall" choice, σ_t² = β̃_t of eq. 7), and μ_θ = μ̃_t(x_t, x̂_0) ([DDPM] eq. 7 with the
 * model's x̂_0; for ε-models this is [DDPM] eq. 11). With equal variances the KL of two Gaussians
 * reduces to ‖μ̃ − μ_θ‖² / (2 σ_t²) per dimension.
 *
 * The decoder (t = 0) is the discretised Gaussian of [DDPM] §3.3 eq. 13 for data scaled to
 * [−1, 1] in 256 levels, with mean μ_θ and the variance β̃ of timestep 1 (improved DDPM's
 * `posterior_log_variance_clipped`). Unlike improved DDPM's code, which approximates the normal
 * CDF with tanh, we use the exact CDF via erfc, and like it we floor bin probabilities at 1e−12.
 *
 * Engine-neutral: plain Float32Array input, float64 arithmetic. Network output comes from the
 * caller (or from a `Denoiser` in `vlbOnBatch`).
 */
import erfc from "@stdlib/math-base-special-erfc";
import { RuntimeFailure } from "../errors.js";
import { outputToX0EpsPerSample, sampleSizeOf, type Prediction } from "./parameterization.js";
import { checkTimestep, type NoiseSchedule } from "./schedule.js";
import type { Denoiser } from "./samplers/types.js";

const LN2 = Math.LN2;
/** Floor of a discretised bin probability before the log (as in improved DDPM's code). */
const MIN_BIN_PROB = 1e-12;

/**
 * KL(N(m1, e^{lv1}) ‖ N(m2, e^{lv2})) for scalars, in nats:
 * ½ (−1 + lv2 − lv1 + e^{lv1 − lv2} + (m1 − m2)² e^{−lv2}).
 */
export function gaussianKl(m1: number, lv1: number, m2: number, lv2: number): number {
  return 0.5 * (-1 + lv2 - lv1 + Math.exp(lv1 - lv2) + (m1 - m2) * (m1 - m2) * Math.exp(-lv2));
}

/**
 * log P(x) of one data value x ∈ [−1, 1] (256 levels) under the discretised Gaussian of
 * [DDPM] eq. 13: the N(mean, e^{logVar}) mass of [x − 1/255, x + 1/255], with the outer bins
 * extended to ±∞ (x ≤ −0.999 or x ≥ 0.999 count as the edge levels).
 */
export function discretizedGaussianLogLikelihood(x: number, mean: number, logVar: number): number {
  const invStd = Math.exp(-0.5 * logVar);
  const lower = x < -0.999 ? -Infinity : (x - 1 / 255 - mean) * invStd;
  const upper = x > 0.999 ? Infinity : (x + 1 / 255 - mean) * invStd;
  // Φ(u) − Φ(l) with Φ(z) = ½ erfc(−z/√2); use the upper tails when both are positive so the
  // difference of two numbers near 1 never loses precision.
  const r = Math.SQRT1_2;
  const p = lower > 0 ? 0.5 * (erfc(lower * r) - erfc(upper * r)) : 0.5 * (erfc(-upper * r) - erfc(-lower * r));
  return Math.log(Math.max(p, MIN_BIN_PROB));
}

export interface VlbBatch {
  schedule: NoiseSchedule;
  prediction: Prediction;
  /** Clean data, batch-major, in [−1, 1] (256 levels for the t = 0 decoder term). */
  x0: Float32Array;
  /** x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for each sample's t (`qSampleArray`). */
  xt: Float32Array;
  /** Raw network output at (x_t, t), in the model's prediction type. */
  modelOut: Float32Array;
  /** One integer timestep per sample, in [0, T). */
  t: ArrayLike<number>;
}

/**
 * L_t in bits/dim for every sample of the batch: the posterior KL for t ≥ 1, the decoder NLL for
 * t = 0 (see the file comment). Zero (for t ≥ 1) exactly when the model's x̂_0 is the true x_0,
 * i.e. when μ_θ equals the true posterior mean.
 */
export function vlbTermsBpd(batch: VlbBatch): Float64Array {
  const { schedule, x0, xt, modelOut, t } = batch;
  if (x0.length !== xt.length || x0.length !== modelOut.length) {
    throw new RuntimeFailure(`VLB: x0 (${x0.length}), x_t (${xt.length}) and model output (${modelOut.length}) must have one length`);
  }
  const size = sampleSizeOf(x0.length, t.length);
  const alphaBars = new Float64Array(t.length);
  for (let b = 0; b < t.length; b++) {
    checkTimestep(schedule.T, t[b]);
    alphaBars[b] = schedule.alphaBars[t[b]];
  }
  const x0Hat = outputToX0EpsPerSample(modelOut, xt, alphaBars, batch.prediction).x0;
  const out = new Float64Array(t.length);
  for (let b = 0; b < t.length; b++) {
    const tb = t[b];
    const c0 = schedule.posteriorMeanCoefX0[tb];
    const ct = schedule.posteriorMeanCoefXt[tb];
    const logVar = schedule.posteriorLogVarianceClipped[tb];
    let nats = 0;
    for (let k = b * size; k < (b + 1) * size; k++) {
      // [DDPM] eq. 7: μ̃_t(x_t, x_0) = c0 x_0 + ct x_t; the model's mean uses x̂_0 in place of x_0.
      const trueMean = c0 * x0[k] + ct * xt[k];
      const modelMean = c0 * x0Hat[k] + ct * xt[k];
      if (tb === 0) {
        // [DDPM] eq. 5 L_0 = −log p_θ(x_0 | x_1), discretised as in eq. 13.
        nats -= discretizedGaussianLogLikelihood(x0[k], modelMean, logVar);
      } else {
        // [DDPM] eq. 5 L_{t−1}: KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)), equal fixed variances.
        nats += gaussianKl(trueMean, logVar, modelMean, logVar);
      }
    }
    out[b] = nats / size / LN2;
  }
  return out;
}

/**
 * The prior term L_T = KL(q(x_T | x_0) ‖ N(0, I)) in bits/dim per sample ([DDPM] eq. 5), with
 * q(x_T | x_0) = N(√ᾱ_T x_0, (1 − ᾱ_T) I) at the last timestep T − 1. Independent of the model.
 */
export function priorBpd(x0: Float32Array, batch: number, schedule: NoiseSchedule): Float64Array {
  const size = sampleSizeOf(x0.length, batch);
  const last = schedule.T - 1;
  const a = schedule.sqrtAlphaBars[last];
  const logVar = Math.log(1 - schedule.alphaBars[last]);
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let nats = 0;
    for (let k = b * size; k < (b + 1) * size; k++) nats += gaussianKl(a * x0[k], logVar, 0, 0);
    out[b] = nats / size / LN2;
  }
  return out;
}

/** Forward noising on plain arrays ([DDPM] eq. 4): x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, per sample. */
export function qSampleArray(x0: Float32Array, eps: Float32Array, t: ArrayLike<number>, schedule: NoiseSchedule): Float32Array {
  if (x0.length !== eps.length) throw new RuntimeFailure(`q_sample: x0 has ${x0.length} values but eps has ${eps.length}`);
  const size = sampleSizeOf(x0.length, t.length);
  const xt = new Float32Array(x0.length);
  for (let b = 0; b < t.length; b++) {
    checkTimestep(schedule.T, t[b]);
    const a = schedule.sqrtAlphaBars[t[b]];
    const s = schedule.sqrtOneMinusAlphaBars[t[b]];
    for (let k = b * size; k < (b + 1) * size; k++) xt[k] = a * x0[k] + s * eps[k];
  }
  return xt;
}

export interface VlbResult {
  /** L_t in bits/dim for each sample. */
  perSample: Float64Array;
  /** Their mean: the number to log. */
  mean: number;
}

/**
 * L_t (bits/dim) on a held-out batch: noises x0 with the given ε at the given timesteps, runs the
 * denoiser once, and evaluates `vlbTermsBpd`. Keep x0, ε and t fixed across the run so the logged
 * curve is comparable from one evaluation to the next.
 */
export async function vlbOnBatch(
  denoiser: Denoiser,
  x0: Float32Array,
  eps: Float32Array,
  t: ArrayLike<number>,
  schedule: NoiseSchedule,
  prediction: Prediction,
): Promise<VlbResult> {
  const xt = qSampleArray(x0, eps, t, schedule);
  const modelOut = await denoiser(xt, Float32Array.from(t));
  const perSample = vlbTermsBpd({ schedule, prediction, x0, xt, modelOut, t });
  let sum = 0;
  for (const v of perSample) sum += v;
  return { perSample, mean: sum / perSample.length };
}
