/**
 * The whole conditional model: UNet + the condition encoder chosen by `model.conditioning`
 * (text, sketch, or none). One forward, written against the op interface, run by the tfjs
 * interpreter (training, sampling) and the ONNX one (export).
 */
import type { ModelConfig } from "../config/schema.js";
import { RuntimeFailure } from "../errors.js";
import type { Ops } from "../nn/ops.js";
import type { ParamSpec } from "./params.js";
import { sketchEncoder, sketchEncoderSpecs } from "./sketch-encoder.js";
import { textEncoder, textEncoderSpecs } from "./text-encoder.js";
import { IMAGE_CHANNELS, unet, unetSpecs } from "./unet.js";

export { initParams, countParams, checkParams, type ParamMap, type ParamSpec } from "./params.js";

export interface ModelInputs<T> {
  /** Noisy images, float32 [N, R, R, 3]. */
  x: T;
  /** Timesteps, float32 [N], in units of diffusion steps (0 … T−1; fractions allowed). */
  t: T;
  /** 1 = use the condition, 0 = the learned null condition; float32 [N]. Ignored without conditioning. */
  cond: T;
  /** Token ids, int32 [N, max_tokens] (conditioning: text). */
  tokens?: T;
  /** Sketches, float32 [N, R, R, 1] (conditioning: sketch). */
  sketch?: T;
}

/** Every parameter of the model for this config; `vocabSize` matters only for text conditioning. */
export function modelParamSpecs(cfg: ModelConfig, vocabSize: number): ParamSpec[] {
  const specs = unetSpecs(cfg);
  if (cfg.conditioning === "text") specs.push(...textEncoderSpecs(cfg, vocabSize));
  if (cfg.conditioning === "sketch") specs.push(...sketchEncoderSpecs(cfg));
  return specs;
}

/** The network's prediction [N, R, R, 3] (ε or v, as the diffusion objective trains it). */
export function forward<T>(ops: Ops<T>, cfg: ModelConfig, inputs: ModelInputs<T>): T {
  const [, h, w, c] = ops.shape(inputs.x);
  if (h !== cfg.resolution || w !== cfg.resolution || c !== IMAGE_CHANNELS) {
    throw new RuntimeFailure(`model input is ${h}×${w}×${c}, the model works at ${cfg.resolution}×${cfg.resolution}×${IMAGE_CHANNELS} (model.resolution)`);
  }
  switch (cfg.conditioning) {
    case "none":
      return unet(ops, cfg, inputs.x, inputs.t, {});
    case "text": {
      if (!inputs.tokens) throw new RuntimeFailure("model.conditioning is text but no token ids were given to the network");
      return unet(ops, cfg, inputs.x, inputs.t, { context: textEncoder(ops, cfg, inputs.tokens, inputs.cond) });
    }
    case "sketch": {
      if (!inputs.sketch) throw new RuntimeFailure("model.conditioning is sketch but no sketch was given to the network");
      return unet(ops, cfg, inputs.x, inputs.t, { features: sketchEncoder(ops, cfg, inputs.sketch, inputs.cond) });
    }
  }
}
