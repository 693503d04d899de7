/**
 * The sampler interface shared by DDPM, DDIM and DPM-Solver++ (shaped like diffusers'
 * schedulers: a list of timesteps, then one `step` per network call).
 *
 * Engine-neutral: states and network outputs are batch-major Float32Arrays (one block of
 * `sampleSize` values per sample), so the same samplers drive tfjs and onnxruntime-node.
 * Every update is element-wise with coefficients shared by the whole batch: sample b's result
 * depends only on sample b's values, never on the batch it was computed in.
 */
import type { Prediction } from "../parameterization.js";
import type { NoiseSchedule } from "../schedule.js";

/**
 * The network as the samplers see it: x_t for a batch and one timestep per sample (the integer
 * training timestep as a float), returning the raw network output in the model's prediction
 * type ("eps" or "v"), same length as x. Conditioning (and guidance) live inside the closure.
 */
export type Denoiser = (x: Float32Array, t: Float32Array) => Promise<Float32Array>;

export type SamplerName = "ddpm" | "ddim" | "dpmpp";
export const SAMPLER_NAMES: readonly SamplerName[] = ["ddpm", "ddim", "dpmpp"];

/** What a sampling run is configured with (the config's `sample` section, in part). */
export interface SamplerSettings {
  name: SamplerName;
  /** Number of network calls (denoising steps), 1 … T. */
  steps: number;
  /** DDIM η ≥ 0 (0 = deterministic, 1 = DDPM-like); ignored by the other samplers. */
  eta?: number;
  /** Clip x̂_0 to [−clipX0, clipX0] at every step (ε̂ is recomputed from the clipped x̂_0); off when absent. */
  clipX0?: number;
}

/**
 * One sampling run. Create a fresh one per batch (DPM-Solver++ remembers the previous step's
 * x̂_0) and call `step` for i = 0, 1, …, steps − 1 in order.
 */
export interface Sampler {
  readonly name: SamplerName;
  /** The training timesteps visited, from most to least noisy; `timesteps[i]` is fed to the network at step i. */
  readonly timesteps: readonly number[];
  /** Whether `step(…, i, noise)` needs a standard-normal noise array (stochastic samplers). */
  needsNoise(i: number): boolean;
  /**
   * Advance x_{timesteps[i]} to x_{timesteps[i+1]} (to the clean sample after the last step)
   * given the network output at (x, timesteps[i]). Returns a new array; inputs are not changed.
   */
  step(x: Float32Array, modelOut: Float32Array, i: number, noise?: Float32Array): Float32Array;
}

export interface SamplerContext {
  schedule: NoiseSchedule;
  prediction: Prediction;
}
