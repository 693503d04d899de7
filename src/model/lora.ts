/**
 * Which layers of the diffx model a LoRA adapter (src/nn/lora.ts) can target, and the adapter's
 * parameter declarations.
 *
 * Targets (`train.adapter.targets`), as layer-name patterns of src/model:
 *   attn_q, attn_k, attn_v, attn_out   the UNet's self- and cross-attention projections
 *   text_proj                          the cross-attention k and v: the projections of the text tokens into the UNet
 *   time                               the time-embedding MLP (and its pooled-text projection, model.text_pool) and every residual block's time projection
 *   conv3x3                            every 3×3 convolution of the UNet (conv_in, residual convs, down/upsampling, out.conv)
 *   conv1x1                            the UNet's 1×1 convolutions (residual skip projections, written as linears)
 *   text_encoder                       every linear of the text encoder's transformer layers (q, k, v, out, MLP)
 * Targets may overlap (attn_k and text_proj both select a cross-attention k); a layer is adapted once.
 *
 * Initialisation as peft's: A from the seeded `fan_in` init, U(±1/√fan_in) — what
 * `kaiming_uniform_(a=√5)` gives — and B zeros, so the adapted network starts equal to the base.
 */
import type { ModelConfig } from "../config/schema.js";
import { LORA_TARGETS, type LoraTarget } from "../config/lora-targets.js";
import { UsageError } from "../errors.js";
import { loraAName, loraBName, type LoraPlan } from "../nn/lora.js";
import type { ParamSpec } from "./params.js";

export { LORA_TARGETS, type LoraTarget };

export interface LoraSettings {
  rank: number;
  /** Defaults to the rank (scale 1). */
  alpha?: number;
  targets: readonly LoraTarget[];
}

const UNET_ATTENTION = /^(down|up|mid)\.\d+\.(attn|cross)\.\d+\.(q|k|v|out)$/;
const PATTERNS: Record<LoraTarget, (layer: string, weight: ParamSpec) => boolean> = {
  attn_q: (l) => UNET_ATTENTION.test(l) && l.endsWith(".q"),
  attn_k: (l) => UNET_ATTENTION.test(l) && l.endsWith(".k"),
  attn_v: (l) => UNET_ATTENTION.test(l) && l.endsWith(".v"),
  attn_out: (l) => UNET_ATTENTION.test(l) && l.endsWith(".out"),
  text_proj: (l) => /^(down|up|mid)\.\d+\.cross\.\d+\.(k|v)$/.test(l),
  time: (l) => /^time\.(mlp\.\d+|text)$/.test(l) || /^(down|up|mid)\.\d+\.res\.\d+\.time$/.test(l),
  conv3x3: (l, w) => w.shape.length === 4 && w.shape[0] === 3 && w.shape[1] === 3 && !l.startsWith("sketch.") && !l.startsWith("text."),
  conv1x1: (l) => /^(down|up|mid)\.\d+\.res\.\d+\.skip$/.test(l),
  text_encoder: (l, w) => /^text\.layer\.\d+\./.test(l) && w.shape.length === 2,
};

export const loraScale = (s: LoraSettings): number => (s.alpha ?? s.rank) / s.rank;

/**
 * The adapted layers (in the model's parameter order) for these settings. Every target must
 * select at least one layer of this model (a UsageError naming the key otherwise).
 */
export function loraLayers(modelSpecs: readonly ParamSpec[], s: LoraSettings, model: ModelConfig): string[] {
  const weights = modelSpecs.filter((p) => p.name.endsWith(".weight")).map((p) => ({ layer: p.name.slice(0, -".weight".length), spec: p }));
  for (const t of s.targets) {
    if (!weights.some((w) => PATTERNS[t](w.layer, w.spec))) {
      throw new UsageError(`train.adapter.targets: ${t} selects no layer of this model (model.conditioning: ${model.conditioning}, attention at [${model.attention.join(", ")}] px)`);
    }
  }
  return weights.filter((w) => s.targets.some((t) => PATTERNS[t](w.layer, w.spec))).map((w) => w.layer);
}

/** The plan the LoRA op layer runs. */
export function loraPlan(modelSpecs: readonly ParamSpec[], s: LoraSettings, model: ModelConfig): LoraPlan {
  return { scale: loraScale(s), layers: new Set(loraLayers(modelSpecs, s, model)) };
}

/** Declarations of the adapter parameters: per layer A (fan_in) and B (zeros), see the file comment. */
export function loraSpecs(modelSpecs: readonly ParamSpec[], s: LoraSettings, model: ModelConfig): ParamSpec[] {
  const byName = new Map(modelSpecs.map((p) => [p.name, p]));
  const out: ParamSpec[] = [];
  for (const layer of loraLayers(modelSpecs, s, model)) {
    const w = byName.get(`${layer}.weight`) as ParamSpec;
    const outDim = w.shape[w.shape.length - 1] as number;
    out.push({ name: loraAName(layer), shape: [...w.shape.slice(0, -1), s.rank], init: "fan_in" }, { name: loraBName(layer), shape: [s.rank, outDim], init: "zeros" });
  }
  return out;
}
