/**
 * The text encoder (conditional encoding module for captions): token embedding + learned
 * positions → text_layers pre-LN transformer layers (text_heads heads, MLP 4× wide with SiLU)
 * → final LayerNorm → tokens [N, max_tokens, text_dim] for the UNet's cross-attention.
 * Padding tokens are attended to like any other (as in Stable Diffusion's text conditioning);
 * their embedding is learned.
 *
 * Null condition (classifier-free guidance, Ho & Salimans 2022): a learned token sequence
 * `text.null` [max_tokens, text_dim] replaces the encoder output where cond = 0.
 */
import type { ModelConfig } from "../config/schema.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { layerNorm, mixWithNull, transformerLayer } from "../nn/layers.js";
import type { Ops } from "../nn/ops.js";
import { linearSpecs, normSpecs, type ParamSpec } from "./params.js";

/** Parameter declarations of the text encoder for a vocabulary of `vocabSize` tokens. */
export function textEncoderSpecs(cfg: ModelConfig, vocabSize: number): ParamSpec[] {
  if (cfg.text_dim % cfg.text_heads !== 0) throw new UsageError(`model.text_heads: ${cfg.text_heads} heads do not divide model.text_dim = ${cfg.text_dim}`);
  if (!Number.isInteger(vocabSize) || vocabSize < 1) throw new RuntimeFailure(`text encoder: vocabulary size must be a positive integer, got ${vocabSize}`);
  const d = cfg.text_dim;
  const specs: ParamSpec[] = [
    { name: "text.embed", shape: [vocabSize, d], init: "normal" },
    { name: "text.pos", shape: [cfg.max_tokens, d], init: "normal" },
  ];
  for (let k = 0; k < cfg.text_layers; k++) {
    const name = `text.layer.${k}`;
    specs.push(
      ...normSpecs(`${name}.ln1`, d),
      ...linearSpecs(`${name}.q`, d, d),
      ...linearSpecs(`${name}.k`, d, d),
      ...linearSpecs(`${name}.v`, d, d),
      ...linearSpecs(`${name}.out`, d, d),
      ...normSpecs(`${name}.ln2`, d),
      ...linearSpecs(`${name}.mlp.0`, d, 4 * d),
      ...linearSpecs(`${name}.mlp.1`, 4 * d, d),
    );
  }
  specs.push(...normSpecs("text.ln_out", d), { name: "text.null", shape: [cfg.max_tokens, d], init: "normal" });
  return specs;
}

/** tokens: int32 [N, max_tokens]; cond: float32 [N] (1 = caption, 0 = null) → [N, max_tokens, text_dim]. */
export function textEncoder<T>(ops: Ops<T>, cfg: ModelConfig, tokens: T, cond: T): T {
  const length = ops.shape(tokens)[1];
  if (length !== cfg.max_tokens) throw new RuntimeFailure(`text encoder: token input has ${length} tokens, model.max_tokens is ${cfg.max_tokens}`);
  let x = ops.add(ops.gather(ops.param("text.embed"), tokens), ops.param("text.pos"));
  for (let k = 0; k < cfg.text_layers; k++) x = transformerLayer(ops, x, `text.layer.${k}`, cfg.text_heads);
  x = layerNorm(ops, x, "text.ln_out");
  return mixWithNull(ops, x, ops.param("text.null"), ops.reshape(cond, [0, 1, 1]));
}
