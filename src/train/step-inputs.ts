/**
 * The tensors of one training step for a shard of a global batch: x0 (with flips), noise,
 * timesteps, condition flags, token ids or sketches — all from the per-sample draws, so a
 * sample's inputs do not depend on which worker or batch position computes it.
 */
import type { ModelConfig } from "../config/schema.js";
import type { Tokenizer } from "../model/tokenizer.js";
import { drawSample } from "./batches.js";
import type { TrainingSet } from "./training-set.js";

export interface StepInputs {
  x0: Float32Array;
  noise: Float32Array;
  t: Int32Array;
  cond: Float32Array;
  tokens?: Int32Array;
  sketch?: Float32Array;
  count: number;
}

function flipRows(src: Float32Array, offset: number, R: number, C: number, out: Float32Array, outOffset: number, flip: boolean): void {
  for (let y = 0; y < R; y++)
    for (let x = 0; x < R; x++) {
      const sx = flip ? R - 1 - x : x;
      for (let c = 0; c < C; c++) out[outOffset + (y * R + x) * C + c] = src[offset + (y * R + sx) * C + c];
    }
}

/**
 * Inputs for the samples at positions `positions` (global indices within the batch) of step
 * `step`, whose pairs are `pairs` (training-set rows).
 */
export function stepInputs(
  data: TrainingSet,
  model: ModelConfig,
  tokenizer: Tokenizer | null,
  seed: number,
  step: number,
  positions: readonly number[],
  pairs: readonly number[],
  T: number,
  condDropout: number,
  flip: boolean,
): StepInputs {
  const R = model.resolution;
  const size = R * R * 3;
  const B = positions.length;
  const out: StepInputs = {
    x0: new Float32Array(B * size),
    noise: new Float32Array(B * size),
    t: new Int32Array(B),
    cond: new Float32Array(B),
    count: B,
  };
  if (model.conditioning === "text") out.tokens = new Int32Array(B * model.max_tokens);
  if (model.conditioning === "sketch") out.sketch = new Float32Array(B * R * R);
  const dropout = model.conditioning === "none" ? 0 : condDropout;
  for (let b = 0; b < B; b++) {
    const d = drawSample(seed, step, positions[b], T, size, dropout, flip);
    const p = pairs[b];
    flipRows(data.images, p * size, R, 3, out.x0, b * size, d.flip);
    out.noise.set(d.noise, b * size);
    out.t[b] = d.t;
    out.cond[b] = d.cond;
    if (out.tokens && tokenizer) {
      const captions = data.captions[p];
      const caption = captions[d.language % captions.length];
      out.tokens.set(tokenizer.encode(caption, model.max_tokens), b * model.max_tokens);
    }
    if (out.sketch && data.sketches) flipRows(data.sketches, p * R * R, R, 1, out.sketch, b * R * R, d.flip);
  }
  return out;
}
