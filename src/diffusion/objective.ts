/**
 * The training objective on tfjs tensors: forward noising q(x_t | x_0), the regression target
 * for "eps" / "v" models, optional min-SNR-γ weighting, and the loss.
 *
 * No randomness here: the trainer draws timesteps and ε from its seeded Rng and passes them in.
 * Timesteps are plain integers in [0, T) (index convention in schedule.ts), one per sample.
 * Every function is pure and disposes its intermediates (tf.tidy); returned tensors belong to
 * the caller. Inputs may have any rank ≥ 1 with the batch on axis 0 (images are NHWC).
 *
 * References:
 * - [DDPM] Ho, Jain, Abbeel 2020. - [PD] Salimans, Ho 2022, "Progressive Distillation…".
 * - [MinSNR] Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy".
 */
import * as tf from "@tensorflow/tfjs";
import { RuntimeFailure } from "../errors.js";
import type { Prediction } from "./parameterization.js";
import { checkTimestep, type NoiseSchedule } from "./schedule.js";

export type { Prediction } from "./parameterization.js";

export interface ObjectiveConfig {
  schedule: NoiseSchedule;
  prediction: Prediction;
  /** γ of min-SNR-γ weighting; 0 turns weighting off (every sample weighs 1). */
  minSnrGamma: number;
}

/** Build the objective config from a schedule and the config's `diffusion` section. */
export function objectiveConfig(
  schedule: NoiseSchedule,
  diffusion: { prediction: Prediction; min_snr_gamma: number },
): ObjectiveConfig {
  return { schedule, prediction: diffusion.prediction, minSnrGamma: diffusion.min_snr_gamma };
}

/** Per-sample coefficients as a [B, 1, …, 1] float32 tensor that broadcasts against `like`. */
function perSample(values: ArrayLike<number>, like: tf.Tensor): tf.Tensor {
  const shape = [values.length, ...new Array<number>(like.rank - 1).fill(1)];
  return tf.tensor(Float32Array.from(values), shape, "float32");
}

/** Check the timesteps against the schedule and the batch size of `x`. */
function checkBatch(t: ArrayLike<number>, x: tf.Tensor, schedule: NoiseSchedule): void {
  if (x.rank < 1 || x.shape[0] !== t.length) {
    throw new RuntimeFailure(`got ${t.length} timesteps for a batch of shape [${x.shape.join(", ")}]`);
  }
  for (let b = 0; b < t.length; b++) checkTimestep(schedule.T, t[b]);
}

function gather(table: Float64Array, t: ArrayLike<number>): Float64Array {
  const out = new Float64Array(t.length);
  for (let b = 0; b < t.length; b++) out[b] = table[t[b]];
  return out;
}

/** Forward noising ([DDPM] eq. 4): x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε. */
export function qSample(x0: tf.Tensor, eps: tf.Tensor, t: ArrayLike<number>, schedule: NoiseSchedule): tf.Tensor {
  checkBatch(t, x0, schedule);
  return tf.tidy(() => {
    const a = perSample(gather(schedule.sqrtAlphaBars, t), x0);
    const s = perSample(gather(schedule.sqrtOneMinusAlphaBars, t), x0);
    return tf.add(tf.mul(a, x0), tf.mul(s, eps));
  });
}

/** Velocity target ([PD] §4): v = √ᾱ_t ε − √(1 − ᾱ_t) x_0. */
export function vTarget(x0: tf.Tensor, eps: tf.Tensor, t: ArrayLike<number>, schedule: NoiseSchedule): tf.Tensor {
  checkBatch(t, x0, schedule);
  return tf.tidy(() => {
    const a = perSample(gather(schedule.sqrtAlphaBars, t), x0);
    const s = perSample(gather(schedule.sqrtOneMinusAlphaBars, t), x0);
    return tf.sub(tf.mul(a, eps), tf.mul(s, x0));
  });
}

/** The regression target: ε ([DDPM] eq. 14, "L_simple") or v ([PD] §4). */
export function predictionTarget(x0: tf.Tensor, eps: tf.Tensor, t: ArrayLike<number>, cfg: ObjectiveConfig): tf.Tensor {
  if (cfg.prediction === "eps") {
    checkBatch(t, x0, cfg.schedule);
    return tf.clone(eps);
  }
  return vTarget(x0, eps, t, cfg.schedule);
}

/**
 * Per-sample loss weights. Without min-SNR (γ = 0) all are 1: the plain MSE of [DDPM] eq. 14.
 * With min-SNR-γ ([MinSNR] §3.4, eq. 9 and the conversions that follow): the weight of the
 * x_0-space loss is min(SNR_t, γ); expressed on the network's own target it becomes
 *   eps: min(SNR_t, γ) / SNR_t          (since ‖ε − ε̂‖² = SNR_t ‖x_0 − x̂_0‖²)
 *   v:   min(SNR_t, γ) / (SNR_t + 1)    (since ‖v − v̂‖² = (SNR_t + 1) ‖x_0 − x̂_0‖²).
 */
export function lossWeights(t: ArrayLike<number>, cfg: ObjectiveConfig): Float64Array {
  const w = new Float64Array(t.length);
  for (let b = 0; b < t.length; b++) {
    checkTimestep(cfg.schedule.T, t[b]);
    if (cfg.minSnrGamma <= 0) {
      w[b] = 1;
      continue;
    }
    const snr = cfg.schedule.snr[t[b]];
    const clipped = Math.min(snr, cfg.minSnrGamma);
    w[b] = cfg.prediction === "eps" ? clipped / snr : clipped / (snr + 1);
  }
  return w;
}

/**
 * The training loss, a scalar: mean over the batch of w_b · mean over elements of
 * (predicted − target)², with target and w_b as above. `predicted` is the raw network output
 * for x_t = qSample(x0, eps, t); differentiable with respect to it.
 */
export function diffusionLoss(
  predicted: tf.Tensor,
  x0: tf.Tensor,
  eps: tf.Tensor,
  t: ArrayLike<number>,
  cfg: ObjectiveConfig,
): tf.Scalar {
  if (predicted.shape.join(",") !== x0.shape.join(",") || eps.shape.join(",") !== x0.shape.join(",")) {
    throw new RuntimeFailure(
      `diffusion loss: prediction [${predicted.shape.join(", ")}], x0 [${x0.shape.join(", ")}] and eps [${eps.shape.join(", ")}] must have one shape`,
    );
  }
  const weights = lossWeights(t, cfg);
  return tf.tidy(() => {
    const target = predictionTarget(x0, eps, t, cfg);
    const sq = tf.squaredDifference(predicted, target);
    const axes = Array.from({ length: sq.rank - 1 }, (_, i) => i + 1);
    const perSampleMse = axes.length > 0 ? tf.mean(sq, axes) : sq;
    const w = tf.tensor1d(Float32Array.from(weights), "float32");
    return tf.mean(tf.mul(perSampleMse, w)) as tf.Scalar;
  });
}

/**
 * Model output → (x̂_0, ε̂) on tensors (see parameterization.ts for the formulas):
 * eps: x̂_0 = (x_t − √(1−ᾱ) ε̂) / √ᾱ ([DDPM] eq. 4); v: x̂_0 = √ᾱ x_t − √(1−ᾱ) v̂,
 * ε̂ = √(1−ᾱ) x_t + √ᾱ v̂ ([PD] §4).
 */
export function outputToX0EpsTensors(
  out: tf.Tensor,
  xt: tf.Tensor,
  t: ArrayLike<number>,
  schedule: NoiseSchedule,
  prediction: Prediction,
): { x0: tf.Tensor; eps: tf.Tensor } {
  checkBatch(t, xt, schedule);
  const x0 = tf.tidy(() => {
    const a = perSample(gather(schedule.sqrtAlphaBars, t), xt);
    const s = perSample(gather(schedule.sqrtOneMinusAlphaBars, t), xt);
    return prediction === "eps" ? tf.div(tf.sub(xt, tf.mul(s, out)), a) : tf.sub(tf.mul(a, xt), tf.mul(s, out));
  });
  const eps = tf.tidy(() => {
    if (prediction === "eps") return tf.clone(out);
    const a = perSample(gather(schedule.sqrtAlphaBars, t), xt);
    const s = perSample(gather(schedule.sqrtOneMinusAlphaBars, t), xt);
    return tf.add(tf.mul(s, xt), tf.mul(a, out));
  });
  return { x0, eps };
}
