/**
 * The perceptual loss logged beside the KL term every `eval_every` steps (metrics.jsonl
 * `perceptual`): how far the network's clean-image estimate x̂₀ lies from the true x₀ in the
 * domain extractor's feature space (the 128-d features FID and KID use, src/metrics/domain).
 *
 * On the fixed logging batch (the first ≤ 8 held-out pairs, the VLB term's batch) every x₀ is
 * noised to each of the fixed noise levels t = ⌊f·T⌋, f ∈ PERCEPTUAL_LEVELS, with fixed noise
 * drawn once from Rng(seed, "perceptual"); the network (conditioned on the pair) predicts at
 * (x_t, t), x̂₀ follows from its output ([DDPM] eq. 4, or the v relation), and x̂₀ and x₀ become
 * 8-bit images as a sampler's output would (clipped to [−1, 1], rounded). The logged value is the
 * mean over images and levels of the Euclidean distance between their feature vectors, so 0
 * means the features cannot tell x̂₀ from x₀. Deterministic: fixed pairs, levels and noise.
 */
import { floatsToImage, type Image } from "../engine/image.js";
import { Rng } from "../engine/rng.js";
import { RuntimeFailure } from "../errors.js";
import { outputToX0EpsPerSample, type Prediction } from "../diffusion/parameterization.js";
import type { Denoiser } from "../diffusion/samplers/types.js";
import type { NoiseSchedule } from "../diffusion/schedule.js";
import { qSampleArray } from "../diffusion/vlb.js";

/** The noise levels, as fractions f of the T training timesteps: t = ⌊f·T⌋ (low, middle, high noise). */
export const PERCEPTUAL_LEVELS: readonly number[] = [0.25, 0.5, 0.75];

/** What the logged number is, in one line (plots, reports). */
export const PERCEPTUAL_RULE =
  "mean Euclidean distance between the domain extractor's 128-d features of x̂₀ and x₀ (as 8-bit images) on the first ≤ 8 held-out pairs (the KL term's), each at t = ⌊f·T⌋ for f = 0.25, 0.5, 0.75 with fixed noise, every train.eval_every steps";

/** Images → one feature vector each (the domain extractor's `featureRows`). */
export type ImageFeatures = (images: Image[]) => Float64Array[];

/** The training timesteps of the noise levels for a T-step schedule. */
export function perceptualTimesteps(T: number): number[] {
  return PERCEPTUAL_LEVELS.map((f) => Math.floor(f * T));
}

/** The fixed noise: one block of `count` samples per level, level-major, from Rng(seed, "perceptual"). */
export function perceptualNoise(seed: number, count: number, sampleSize: number): Float32Array {
  return new Rng(seed, "perceptual").normals(PERCEPTUAL_LEVELS.length * count * sampleSize);
}

export interface PerceptualResult {
  /** The logged number: mean over levels and images. */
  mean: number;
  /** Mean over images at each level, in PERCEPTUAL_LEVELS order. */
  perLevel: number[];
}

function toImages(x: Float32Array, count: number, resolution: number): Image[] {
  const size = resolution * resolution * 3;
  return Array.from({ length: count }, (_, b) => floatsToImage(x.subarray(b * size, (b + 1) * size), resolution, resolution, 3));
}

function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
  return Math.sqrt(s);
}

/**
 * The perceptual loss on one fixed batch of `count` clean images `x0` (batch-major, HWC in
 * [−1, 1], `resolution` px), measured for the network of the moment with `measure`. The real
 * images' features are computed once (on the first call) and kept: x₀ does not change.
 */
export class PerceptualProbe {
  private readonly levels: number[];
  private readonly xt: Float32Array;
  private readonly t: Float32Array;
  private readonly alphaBars: number[];
  private real: Float64Array[] | null = null;

  /** `noise`: `perceptualNoise(seed, count, resolution² · 3)`. */
  constructor(
    private readonly features: ImageFeatures,
    private readonly x0: Float32Array,
    noise: Float32Array,
    private readonly count: number,
    private readonly resolution: number,
    schedule: NoiseSchedule,
    private readonly prediction: Prediction,
  ) {
    const size = resolution * resolution * 3;
    this.levels = perceptualTimesteps(schedule.T);
    if (x0.length !== count * size || noise.length !== this.levels.length * count * size) {
      throw new RuntimeFailure(`perceptual loss: expected ${count} images of ${size} values and ${this.levels.length}× as much noise, got ${x0.length} and ${noise.length}`);
    }
    // every image at every level, level-major: one network call for the whole probe
    const rows = this.levels.flatMap((t) => new Array<number>(count).fill(t));
    const x0All = new Float32Array(rows.length * size);
    for (let l = 0; l < this.levels.length; l++) x0All.set(x0, l * count * size);
    this.xt = qSampleArray(x0All, noise, rows, schedule);
    this.t = Float32Array.from(rows);
    this.alphaBars = rows.map((t) => schedule.alphaBars[t]);
  }

  /** The perceptual loss of `denoiser`, which receives every level's x_t of the batch at once (level-major). */
  async measure(denoiser: Denoiser): Promise<PerceptualResult> {
    this.real ??= this.features(toImages(this.x0, this.count, this.resolution));
    const out = await denoiser(this.xt, this.t);
    const x0Hat = outputToX0EpsPerSample(out, this.xt, this.alphaBars, this.prediction).x0;
    const estimated = this.features(toImages(Float32Array.from(x0Hat), this.levels.length * this.count, this.resolution));
    const perLevel = this.levels.map((_, l) => {
      let sum = 0;
      for (let b = 0; b < this.count; b++) sum += distance(estimated[l * this.count + b], this.real![b]);
      return sum / this.count;
    });
    return { mean: perLevel.reduce((a, b) => a + b, 0) / perLevel.length, perLevel };
  }
}
