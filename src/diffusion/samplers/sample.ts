/**
 * The sampling driver: initial noise → `steps` network calls → clean samples.
 *
 * Reproducibility rule (DESIGN.md): sample i's noise depends only on (seed, i), never on the
 * batch it is generated in or on how many samples are asked for. The driver therefore takes a
 * NoiseSource indexed by the GLOBAL sample index, and the samplers update every sample
 * independently; with a batch-independent network, sample i is bit-identical in any batch.
 */
import { RuntimeFailure } from "../../errors.js";
import { Rng } from "../../engine/rng.js";
import type { Prediction } from "../parameterization.js";
import type { NoiseSchedule } from "../schedule.js";
import { createSampler } from "./create.js";
import type { Denoiser, SamplerSettings } from "./types.js";

/** Standard-normal noise for one sample, by global sample index. */
export interface NoiseSource {
  /** x_T of sample `sample` (`sampleSize` values). */
  initial(sample: number): Float32Array;
  /** The noise z that stochastic samplers add at step `stepIndex` of sample `sample`. */
  step(sample: number, stepIndex: number): Float32Array;
}

/**
 * Noise from the run seed: x_T of sample i from `new Rng(seed, "sample", i, "x_T")`, the noise of
 * step k from `new Rng(seed, "sample", i, "step", k)` — each a function of (seed, i[, k]) only.
 */
export function seededNoise(seed: number, sampleSize: number): NoiseSource {
  return {
    initial: (sample) => new Rng(seed, "sample", sample, "x_T").normals(sampleSize),
    step: (sample, stepIndex) => new Rng(seed, "sample", sample, "step", stepIndex).normals(sampleSize),
  };
}

export interface SampleRequest {
  /** The network (already guided, if guidance is wanted: see `guidedDenoiser`). */
  denoiser: Denoiser;
  schedule: NoiseSchedule;
  prediction: Prediction;
  sampler: SamplerSettings;
  noise: NoiseSource;
  /** Global indices of the samples in this batch (their noise comes from these). */
  samples: readonly number[];
  /** Values per sample (H·W·C). */
  sampleSize: number;
  /** Called after every step with (steps done, total steps). */
  onStep?: (done: number, total: number) => void;
}

function gatherNoise(samples: readonly number[], size: number, draw: (sample: number) => Float32Array): Float32Array {
  const out = new Float32Array(samples.length * size);
  samples.forEach((s, b) => {
    const z = draw(s);
    if (z.length !== size) throw new RuntimeFailure(`noise source gave ${z.length} values for sample ${s}, expected ${size}`);
    out.set(z, b * size);
  });
  return out;
}

/** Run one batch through the sampler; returns the samples, batch-major (`samples.length · sampleSize`). */
export async function sample(req: SampleRequest): Promise<Float32Array> {
  const { denoiser, noise, samples, sampleSize } = req;
  if (samples.length === 0) return new Float32Array(0);
  const sampler = createSampler(req.sampler, { schedule: req.schedule, prediction: req.prediction });
  let x = gatherNoise(samples, sampleSize, (s) => noise.initial(s));
  const steps = sampler.timesteps.length;
  for (let i = 0; i < steps; i++) {
    const t = new Float32Array(samples.length).fill(sampler.timesteps[i]);
    const out = await denoiser(x, t);
    if (out.length !== x.length) {
      throw new RuntimeFailure(`the network returned ${out.length} values for ${x.length} inputs at sampling step ${i}`);
    }
    const z = sampler.needsNoise(i) ? gatherNoise(samples, sampleSize, (s) => noise.step(s, i)) : undefined;
    x = sampler.step(x, out, i, z);
    req.onStep?.(i + 1, steps);
  }
  return x;
}
