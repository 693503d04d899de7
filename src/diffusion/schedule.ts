/**
 * Noise schedules of the discrete-time Gaussian diffusion process, in float64.
 *
 * Index convention (the one of diffusers and improved-diffusion's code): timesteps are
 * t = 0 … T−1, and `alphaBars[t]` = ᾱ_t = ∏_{s=0..t} α_s is the signal level after t+1 noising
 * steps. The papers count t = 1 … T; their ᾱ_t is our `alphaBars[t − 1]`. "Before step 0"
 * (clean data) is ᾱ_{−1} = 1, available as `alphaBarPrev[0]` and `alphaBarAt(-1)`.
 *
 * References:
 * - [DDPM] Ho, Jain, Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020.
 * - [IDDPM] Nichol, Dhariwal, "Improved Denoising Diffusion Probabilistic Models", ICML 2021.
 */
import { RuntimeFailure, UsageError } from "../errors.js";

export type ScheduleKind = "linear" | "cosine";

/** What a schedule is built from (structurally the `diffusion` section of the config). */
export interface ScheduleSpec {
  schedule: ScheduleKind;
  timesteps: number;
}

/** Largest β allowed: [IDDPM] §3.2 clips β_t at 0.999 to avoid singularities near t = T. */
export const MAX_BETA = 0.999;

/** Cosine schedule offset s ([IDDPM] eq. 17, s = 0.008). */
export const COSINE_OFFSET = 0.008;

export interface NoiseSchedule {
  readonly kind: ScheduleKind;
  /** T, the number of diffusion steps. */
  readonly T: number;
  /** β_t (variance added at step t). */
  readonly betas: Float64Array;
  /** α_t = 1 − β_t ([DDPM] §2, after eq. 4). */
  readonly alphas: Float64Array;
  /** ᾱ_t = ∏_{s≤t} α_s ([DDPM] §2, after eq. 4). */
  readonly alphaBars: Float64Array;
  /** ᾱ_{t−1}, with ᾱ_{−1} = 1. */
  readonly alphaBarPrev: Float64Array;
  /** √ᾱ_t: the signal coefficient of q(x_t | x_0) ([DDPM] eq. 4). */
  readonly sqrtAlphaBars: Float64Array;
  /** √(1 − ᾱ_t): the noise coefficient of q(x_t | x_0) ([DDPM] eq. 4). */
  readonly sqrtOneMinusAlphaBars: Float64Array;
  /** SNR(t) = ᾱ_t / (1 − ᾱ_t) (Kingma et al. 2021, "Variational Diffusion Models", eq. 2 for VP). */
  readonly snr: Float64Array;
  /** β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t: variance of q(x_{t−1} | x_t, x_0) ([DDPM] eq. 7). */
  readonly posteriorVariance: Float64Array;
  /**
   * log β̃_t with the t = 0 entry (where β̃_0 = 0) replaced by log β̃_1, as in [IDDPM]'s code
   * (`posterior_log_variance_clipped`); the variance used by the decoder p(x_0 | x_1).
   */
  readonly posteriorLogVarianceClipped: Float64Array;
  /** Coefficient of x_0 in μ̃_t(x_t, x_0): √ᾱ_{t−1} β_t / (1 − ᾱ_t) ([DDPM] eq. 7). */
  readonly posteriorMeanCoefX0: Float64Array;
  /** Coefficient of x_t in μ̃_t(x_t, x_0): √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) ([DDPM] eq. 7). */
  readonly posteriorMeanCoefXt: Float64Array;
  /** ᾱ_t for t in [−1, T): t = −1 (clean data) gives 1. */
  alphaBarAt(t: number): number;
}

/**
 * Linear β schedule ([DDPM] §4: β from 1e−4 to 0.02 over T = 1000 steps), rescaled for other T
 * as in [IDDPM]'s code (`get_named_beta_schedule`): both ends are multiplied by 1000 / T, so the
 * total noise ∑β stays about the same and x_{T−1} is still close to N(0, I). Values are clipped at
 * MAX_BETA (only matters for T ≤ 20).
 */
export function linearBetas(T: number): Float64Array {
  const scale = 1000 / T;
  const start = scale * 1e-4;
  const end = scale * 0.02;
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    // numpy.linspace(start, end, T): start + i · (end − start) / (T − 1)
    const b = T === 1 ? start : start + (i * (end - start)) / (T - 1);
    betas[i] = Math.min(b, MAX_BETA);
  }
  return betas;
}

/**
 * Cosine schedule ([IDDPM] eq. 17): ᾱ(t) = f(t) / f(0), f(t) = cos²(((t/T) + s) / (1 + s) · π/2),
 * and β_t = 1 − ᾱ(t) / ᾱ(t − 1) clipped at 0.999 ([IDDPM] §3.2). In our 0-based index step i
 * goes from continuous time i/T to (i + 1)/T, so β_i = min(1 − f((i+1)/T) / f(i/T), 0.999)
 * (the f(0) normalisation cancels), as in [IDDPM]'s `betas_for_alpha_bar`.
 */
export function cosineBetas(T: number): Float64Array {
  const f = (u: number): number => {
    const c = Math.cos(((u + COSINE_OFFSET) / (1 + COSINE_OFFSET)) * (Math.PI / 2));
    return c * c;
  };
  const betas = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    betas[i] = Math.min(1 - f((i + 1) / T) / f(i / T), MAX_BETA);
  }
  return betas;
}

/** Build a schedule and all derived coefficients. `spec` is the config's `diffusion` section. */
export function makeSchedule(spec: ScheduleSpec): NoiseSchedule {
  const T = spec.timesteps;
  if (!Number.isInteger(T) || T < 1) {
    throw new UsageError(`diffusion.timesteps must be a positive integer, got ${String(T)}`);
  }
  let betas: Float64Array;
  if (spec.schedule === "linear") betas = linearBetas(T);
  else if (spec.schedule === "cosine") betas = cosineBetas(T);
  else throw new UsageError(`diffusion.schedule must be "linear" or "cosine", got ${JSON.stringify(spec.schedule)}`);
  return scheduleFromBetas(spec.schedule, betas);
}

/** Derive every coefficient from β (exported so tests can build a schedule from given β). */
export function scheduleFromBetas(kind: ScheduleKind, betas: Float64Array): NoiseSchedule {
  const T = betas.length;
  const alphas = new Float64Array(T);
  const alphaBars = new Float64Array(T);
  const alphaBarPrev = new Float64Array(T);
  const sqrtAlphaBars = new Float64Array(T);
  const sqrtOneMinusAlphaBars = new Float64Array(T);
  const snr = new Float64Array(T);
  const posteriorVariance = new Float64Array(T);
  const posteriorLogVarianceClipped = new Float64Array(T);
  const posteriorMeanCoefX0 = new Float64Array(T);
  const posteriorMeanCoefXt = new Float64Array(T);

  let prod = 1;
  for (let t = 0; t < T; t++) {
    alphas[t] = 1 - betas[t]; // [DDPM] §2: α_t = 1 − β_t
    alphaBarPrev[t] = prod; // ᾱ_{t−1}, ᾱ_{−1} = 1
    prod *= alphas[t]; // [DDPM] §2: ᾱ_t = ∏_{s≤t} α_s
    alphaBars[t] = prod;
    sqrtAlphaBars[t] = Math.sqrt(prod); // [DDPM] eq. 4 mean coefficient
    sqrtOneMinusAlphaBars[t] = Math.sqrt(1 - prod); // [DDPM] eq. 4 standard deviation
    snr[t] = prod / (1 - prod); // SNR = ᾱ / (1 − ᾱ)
    const ab = prod;
    const abPrev = alphaBarPrev[t];
    // [DDPM] eq. 7: β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t
    posteriorVariance[t] = ((1 - abPrev) / (1 - ab)) * betas[t];
    // [DDPM] eq. 7: μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x_0 + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t
    posteriorMeanCoefX0[t] = (Math.sqrt(abPrev) * betas[t]) / (1 - ab);
    posteriorMeanCoefXt[t] = (Math.sqrt(alphas[t]) * (1 - abPrev)) / (1 - ab);
  }
  for (let t = 0; t < T; t++) {
    // [IDDPM] code: log β̃ with β̃_0 (= 0) replaced by β̃_1; with T = 1 there is no β̃_1, use β_0.
    const v = t === 0 ? (T > 1 ? posteriorVariance[1] : betas[0]) : posteriorVariance[t];
    posteriorLogVarianceClipped[t] = Math.log(v);
  }

  return {
    kind,
    T,
    betas,
    alphas,
    alphaBars,
    alphaBarPrev,
    sqrtAlphaBars,
    sqrtOneMinusAlphaBars,
    snr,
    posteriorVariance,
    posteriorLogVarianceClipped,
    posteriorMeanCoefX0,
    posteriorMeanCoefXt,
    alphaBarAt(t: number): number {
      if (t === -1) return 1;
      checkTimestep(T, t);
      return alphaBars[t];
    },
  };
}

/** Throw unless t is an integer timestep in [0, T). */
export function checkTimestep(T: number, t: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= T) {
    throw new RuntimeFailure(`diffusion timestep ${t} is outside [0, ${T - 1}] (T = ${T})`);
  }
}
