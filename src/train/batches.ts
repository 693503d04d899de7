/**
 * What each training step sees, derived only from (seed, step, sample index) so that the run
 * does not depend on the number of workers or how a batch is split:
 * - which pairs: epoch e visits the pairs in the order Rng(seed, "data", e).shuffle; batches
 *   are consecutive slices of that order, wrapping into the next epoch;
 * - per sample i of step s, Rng(seed, "sample", s, i): timestep t, noise ε, condition dropout,
 *   horizontal flip and caption language.
 */
import { Rng } from "../engine/rng.js";

export interface DataPosition {
  epoch: number;
  offset: number;
}

export function epochOrder(seed: number, epoch: number, n: number): number[] {
  return new Rng(seed, "data", epoch).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** The pair indices of the next batch of size `batch`, and the position after it. */
export function nextBatch(seed: number, n: number, batch: number, pos: DataPosition): { indices: number[]; next: DataPosition } {
  const indices: number[] = [];
  let { epoch, offset } = pos;
  let order = epochOrder(seed, epoch, n);
  while (indices.length < batch) {
    if (offset >= n) {
      epoch += 1;
      offset = 0;
      order = epochOrder(seed, epoch, n);
    }
    indices.push(order[offset++]);
  }
  return { indices, next: { epoch, offset } };
}

export interface SampleDraw {
  t: number;
  /** 1 = keep the condition, 0 = null condition (classifier-free guidance dropout). */
  cond: number;
  flip: boolean;
  /** Caption language for text models: 0 = English, 1 = Chinese. */
  language: number;
  noise: Float32Array;
}

/** The random draws of sample `i` of step `step` (independent of batch split and worker). */
export function drawSample(seed: number, step: number, i: number, T: number, noiseSize: number, condDropout: number, flip: boolean): SampleDraw {
  const rng = new Rng(seed, "sample", step, i);
  const t = rng.int(T);
  const cond = rng.chance(condDropout) ? 0 : 1;
  const doFlip = flip && rng.chance(0.5);
  const language = rng.int(2);
  const noise = rng.normals(noiseSize);
  return { t, cond, flip: doFlip, language, noise };
}
