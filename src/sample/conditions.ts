/**
 * The conditions a batch of samples is generated for: captions (text models), sketches
 * (sketch models) or nothing, as the network's extra inputs (token ids, sketch pixels).
 */
import type { ModelConfig } from "../config/schema.js";
import { UsageError } from "../errors.js";
import type { Tokenizer } from "../model/tokenizer.js";

export interface Condition {
  /** Caption for text models. */
  prompt?: string;
  /** Sketch pixels in [-1, 1], resolution × resolution × 1, for sketch models. */
  sketch?: Float32Array;
  /** Where the sketch came from (a file or a dataset pair), for samples.jsonl. */
  sketchSource?: string;
}

/** Network inputs for a batch of conditions, each row repeated as given. */
export interface ConditionInputs {
  tokens?: Int32Array;
  sketch?: Float32Array;
}

export function conditionInputs(model: ModelConfig, conds: readonly Condition[], tokenizer: Tokenizer | null): ConditionInputs {
  if (model.conditioning === "text") {
    if (!tokenizer) throw new UsageError("a text-conditioned model needs its tokenizer");
    const L = model.max_tokens;
    const tokens = new Int32Array(conds.length * L);
    conds.forEach((c, i) => {
      if (c.prompt === undefined) throw new UsageError("this model is text-conditioned: give a prompt (--prompt) for every sample");
      tokens.set(tokenizer.encode(c.prompt, L), i * L);
    });
    return { tokens };
  }
  if (model.conditioning === "sketch") {
    const size = model.resolution * model.resolution;
    const sketch = new Float32Array(conds.length * size);
    conds.forEach((c, i) => {
      if (!c.sketch) throw new UsageError("this model is sketch-conditioned: give a sketch (--sketch FILE) for every sample");
      if (c.sketch.length !== size) throw new UsageError(`sketch ${c.sketchSource ?? i} has ${c.sketch.length} pixels, the model needs ${model.resolution}×${model.resolution}`);
      sketch.set(c.sketch, i * size);
    });
    return { sketch };
  }
  return {};
}
