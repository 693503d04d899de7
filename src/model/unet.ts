/**
 * The noise-prediction network: a UNet (Ronneberger et al. 2015) in the DDPM form (Ho et al.
 * 2020, App. B), written once against the op interface.
 *
 *   t [N] ─ sinusoidal(time_dim) ─ time.mlp.0 ─ SiLU ─ time.mlp.1 ─► temb
 *   [+ time.text(mean of the text tokens)]   (model.text_pool: a global text condition that reaches
 *                                              every residual block, as GLIDE and Imagen add a pooled
 *                                              text embedding to the timestep embedding)
 *   x [N, R, R, 3] ─ conv_in ─► level 0 … level L−1 (encoder) ─► level L−1 … level 0 (decoder) ─ out
 *
 * Encoder level i (width channels[i], resolution R/2^i):
 *   [+ down.i.pos] [+ sketch feature map i]  →  res_blocks × (resBlock [→ self-attention] [→ cross-attention])
 *   → keep as skip i → stride-2 3×3 conv (padding 1 on every side) unless i is the last level.
 * Middle (model.mid_block, at the last level's resolution): resBlock → self-attention
 *   [→ cross-attention] → resBlock, the middle block of DDPM (Ho et al. 2020, App. B) and ADM.
 * Decoder level i (from the last up): concat(h, skip i) → res_blocks × (resBlock
 *   [→ cross-attention]) → nearest 2× upsample + 3×3 conv unless i = 0.
 * Out: GroupNorm → SiLU → 3×3 conv to 3 channels.
 *
 * Self-attention (one head) sits in the encoder at the resolutions in `model.attention` (and in
 * the middle block). With text conditioning, cross-attention to the text tokens (text_heads
 * heads) follows every residual block, encoder and decoder, at those resolutions and at the
 * lowest resolution, and the middle block's self-attention.
 * With the bench config (32 px, 32/64/128, one block, attention at 8) this is 1,373,155
 * parameters, the reference network of ENGINE-NOTES.md.
 *
 * Position maps (model.position_embedding): a learned [R/2^i, R/2^i, width] map `down.i.pos`
 * added to the input of every encoder level, as ViT adds a learned position embedding to its
 * patches (Dosovitskiy et al. 2021). A UNet is otherwise translation-equivariant except at its
 * zero-padded borders; the maps tell every pixel where it is, so what the caption asks for can
 * depend on the place. (On art-32 they took held-out count from 32 to 39 %: README, "Limits".)
 *
 * Zero-initialised (as in improved DDPM / ADM): the second conv of every residual block, the
 * output projection of every attention block, and the final conv, so every block starts as
 * the identity and the network starts predicting 0. `time.text` starts at zero too, so turning
 * text_pool on adds nothing until training moves it.
 */
import type { ModelConfig } from "../config/schema.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { conv, crossAttentionBlock, groupNorm, linear, resBlock, selfAttentionBlock, timestepEmbedding } from "../nn/layers.js";
import type { Ops } from "../nn/ops.js";
import { convSpecs, linearSpecs, normSpecs, type ParamSpec } from "./params.js";

export const IMAGE_CHANNELS = 3;
/** Heads of the UNet's self-attention (the reference network is single-head). */
export const SELF_ATTENTION_HEADS = 1;
/** Parameter prefix of the middle block (model.mid_block). */
const MID = "mid.0";

export interface UnetLevel {
  index: number;
  resolution: number;
  channels: number;
  /** Width of the level's input (conv_in's output, or the previous level's downsampled map); sketch features are added here. */
  inputChannels: number;
  selfAttention: boolean;
  crossAttention: boolean;
}

/** The levels of the UNet for a config; throws UsageError naming the key when it cannot be built. */
export function unetLevels(cfg: ModelConfig): UnetLevel[] {
  const n = cfg.channels.length;
  const resolutions = cfg.channels.map((_, i) => cfg.resolution / 2 ** i);
  if (!Number.isInteger(resolutions[n - 1])) {
    throw new UsageError(`model.resolution: ${cfg.resolution} px cannot be halved ${n - 1} times (one halving per model.channels entry after the first)`);
  }
  for (const r of cfg.attention) {
    if (!resolutions.includes(r)) throw new UsageError(`model.attention: ${r} px is not a UNet level resolution (levels are at ${resolutions.join(", ")} px)`);
  }
  if (cfg.time_dim % 2 !== 0 || cfg.time_dim < 4) throw new UsageError(`model.time_dim must be even and at least 4, got ${cfg.time_dim}`);
  const text = cfg.conditioning === "text";
  return cfg.channels.map((channels, index) => {
    const selfAttention = cfg.attention.includes(resolutions[index]);
    return { index, resolution: resolutions[index], channels, inputChannels: cfg.channels[Math.max(0, index - 1)], selfAttention, crossAttention: text && (selfAttention || index === n - 1) };
  });
}

function checkGroups(cfg: ModelConfig, width: number): void {
  if (width % cfg.groups !== 0) {
    throw new UsageError(`model.groups: ${cfg.groups} GroupNorm groups do not divide a feature width of ${width} (from model.channels [${cfg.channels.join(", ")}])`);
  }
}

function resBlockSpecs(cfg: ModelConfig, name: string, inCh: number, outCh: number): ParamSpec[] {
  checkGroups(cfg, inCh);
  checkGroups(cfg, outCh);
  return [
    ...normSpecs(`${name}.norm1`, inCh),
    ...convSpecs(`${name}.conv1`, 3, inCh, outCh),
    ...linearSpecs(`${name}.time`, cfg.time_dim, outCh),
    ...normSpecs(`${name}.norm2`, outCh),
    ...convSpecs(`${name}.conv2`, 3, outCh, outCh, { zeroInit: true }),
    ...(inCh === outCh ? [] : linearSpecs(`${name}.skip`, inCh, outCh)),
  ];
}

function attentionSpecs(cfg: ModelConfig, name: string, channels: number, contextDim: number): ParamSpec[] {
  checkGroups(cfg, channels);
  return [
    ...normSpecs(`${name}.norm`, channels),
    ...linearSpecs(`${name}.q`, channels, channels),
    ...linearSpecs(`${name}.k`, contextDim, channels),
    ...linearSpecs(`${name}.v`, contextDim, channels),
    ...linearSpecs(`${name}.out`, channels, channels, { zeroInit: true }),
  ];
}

function checkCrossHeads(cfg: ModelConfig, level: UnetLevel): void {
  if (level.channels % cfg.text_heads !== 0) {
    throw new UsageError(`model.text_heads: ${cfg.text_heads} heads do not divide the ${level.channels} channels of the ${level.resolution} px level that cross-attends to the text`);
  }
}

/** Parameter declarations of the UNet (without the condition encoders), in forward order. */
/** Whether the model adds the pooled text tokens to the timestep embedding (model.text_pool). */
function textPooled(cfg: ModelConfig): boolean {
  return cfg.conditioning === "text" && cfg.text_pool;
}

export function unetSpecs(cfg: ModelConfig): ParamSpec[] {
  const levels = unetLevels(cfg);
  const specs: ParamSpec[] = [
    ...linearSpecs("time.mlp.0", cfg.time_dim, cfg.time_dim),
    ...linearSpecs("time.mlp.1", cfg.time_dim, cfg.time_dim),
    ...(textPooled(cfg) ? linearSpecs("time.text", cfg.text_dim, cfg.time_dim, { zeroInit: true }) : []),
    ...convSpecs("conv_in", 3, IMAGE_CHANNELS, levels[0].channels),
  ];
  let width = levels[0].channels;
  for (const level of levels) {
    if (cfg.position_embedding) specs.push({ name: `down.${level.index}.pos`, shape: [level.resolution, level.resolution, level.inputChannels], init: "zeros" });
    for (let j = 0; j < cfg.res_blocks; j++) {
      specs.push(...resBlockSpecs(cfg, `down.${level.index}.res.${j}`, width, level.channels));
      width = level.channels;
      if (level.selfAttention) specs.push(...attentionSpecs(cfg, `down.${level.index}.attn.${j}`, width, width));
      if (level.crossAttention) {
        checkCrossHeads(cfg, level);
        specs.push(...attentionSpecs(cfg, `down.${level.index}.cross.${j}`, width, cfg.text_dim));
      }
    }
    if (level.index < levels.length - 1) specs.push(...convSpecs(`down.${level.index}.downsample`, 3, width, width));
  }
  if (cfg.mid_block) {
    const last = levels[levels.length - 1];
    specs.push(...resBlockSpecs(cfg, `${MID}.res.0`, width, width), ...attentionSpecs(cfg, `${MID}.attn.0`, width, width));
    if (last.crossAttention) specs.push(...attentionSpecs(cfg, `${MID}.cross.0`, width, cfg.text_dim));
    specs.push(...resBlockSpecs(cfg, `${MID}.res.1`, width, width));
  }
  for (const level of [...levels].reverse()) {
    for (let j = 0; j < cfg.res_blocks; j++) {
      const inCh = j === 0 ? width + level.channels : width; // the first block takes the skip concat
      specs.push(...resBlockSpecs(cfg, `up.${level.index}.res.${j}`, inCh, level.channels));
      width = level.channels;
      if (level.crossAttention) specs.push(...attentionSpecs(cfg, `up.${level.index}.cross.${j}`, width, cfg.text_dim));
    }
    if (level.index > 0) specs.push(...convSpecs(`up.${level.index}.upsample`, 3, width, width));
  }
  specs.push(...normSpecs("out.norm", width), ...convSpecs("out.conv", 3, width, IMAGE_CHANNELS, { zeroInit: true }));
  return specs;
}

export interface UnetConditions<T> {
  /** Text tokens from the text encoder [N, L, text_dim] (text conditioning). */
  context?: T;
  /** Sketch feature maps, one per level at the width of its input and its resolution (sketch conditioning). */
  features?: T[];
}

/** ε (or v) prediction [N, R, R, 3] for noisy images x [N, R, R, 3] at timesteps t [N]. */
export function unet<T>(ops: Ops<T>, cfg: ModelConfig, x: T, t: T, cond: UnetConditions<T>): T {
  const levels = unetLevels(cfg);
  const g = cfg.groups;
  let temb = linear(ops, ops.silu(linear(ops, timestepEmbedding(ops, t, cfg.time_dim), "time.mlp.0")), "time.mlp.1");
  if (textPooled(cfg)) {
    if (!cond.context) throw new RuntimeFailure("unet: model.text_pool needs the text context (model.conditioning is text)");
    temb = ops.add(temb, linear(ops, ops.mean(cond.context, [1], false), "time.text"));
  }

  const crossAttend = (h: T, name: string): T => {
    if (!cond.context) throw new RuntimeFailure(`unet: ${name} needs the text context (model.conditioning is text)`);
    return crossAttentionBlock(ops, h, cond.context, name, g, cfg.text_heads);
  };

  let h = conv(ops, x, "conv_in");
  const skips: T[] = [];
  for (const level of levels) {
    const i = level.index;
    if (cfg.position_embedding) h = ops.add(h, ops.param(`down.${i}.pos`));
    if (cond.features) h = ops.add(h, cond.features[i]);
    for (let j = 0; j < cfg.res_blocks; j++) {
      h = resBlock(ops, h, temb, `down.${i}.res.${j}`, level.channels, g);
      if (level.selfAttention) h = selfAttentionBlock(ops, h, `down.${i}.attn.${j}`, g, SELF_ATTENTION_HEADS);
      if (level.crossAttention) h = crossAttend(h, `down.${i}.cross.${j}`);
    }
    skips.push(h);
    if (i < levels.length - 1) h = conv(ops, h, `down.${i}.downsample`, 2, [1, 1, 1, 1]);
  }
  if (cfg.mid_block) {
    const last = levels[levels.length - 1];
    h = resBlock(ops, h, temb, `${MID}.res.0`, last.channels, g);
    h = selfAttentionBlock(ops, h, `${MID}.attn.0`, g, SELF_ATTENTION_HEADS);
    if (last.crossAttention) h = crossAttend(h, `${MID}.cross.0`);
    h = resBlock(ops, h, temb, `${MID}.res.1`, last.channels, g);
  }
  for (const level of [...levels].reverse()) {
    const i = level.index;
    h = ops.concat([h, skips[i]], 3);
    for (let j = 0; j < cfg.res_blocks; j++) {
      h = resBlock(ops, h, temb, `up.${i}.res.${j}`, level.channels, g);
      if (level.crossAttention) h = crossAttend(h, `up.${i}.cross.${j}`);
    }
    if (i > 0) h = conv(ops, ops.upsample2x(h), `up.${i}.upsample`);
  }
  return conv(ops, ops.silu(groupNorm(ops, h, "out.norm", g)), "out.conv");
}
