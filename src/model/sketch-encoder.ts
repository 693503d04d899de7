/**
 * The sketch encoder and the multi-scale feature fusion path: a conv pyramid on the
 * 1-channel sketch emits one feature map per UNet encoder level (same resolution), each
 * projected to the width of that level's input by a zero-initialised 1×1 conv (`sketch.fuse.i`, a linear
 * over channels) and added to the level's input (in the manner of ControlNet's zero
 * convolutions, Zhang et al. 2023). At initialisation the model therefore equals the
 * unconditional one.
 *
 * Pyramid level i has width sketch_channels·2^i: level 0 is conv3×3 → SiLU → conv3×3 → SiLU
 * at full resolution; level i > 0 starts with a stride-2 conv3×3 (padding 1) from level i−1.
 *
 * Null condition: a learned null sketch `sketch.null` [R, R, 1] replaces the input sketch
 * where cond = 0, before the pyramid.
 */
import type { ModelConfig } from "../config/schema.js";
import { RuntimeFailure } from "../errors.js";
import { conv, linear, mixWithNull } from "../nn/layers.js";
import type { Ops } from "../nn/ops.js";
import { convSpecs, linearSpecs, type ParamSpec } from "./params.js";
import { unetLevels } from "./unet.js";

export const SKETCH_CHANNELS = 1;

function pyramidWidth(cfg: ModelConfig, level: number): number {
  return cfg.sketch_channels * 2 ** level;
}

export function sketchEncoderSpecs(cfg: ModelConfig): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: "sketch.null", shape: [cfg.resolution, cfg.resolution, SKETCH_CHANNELS], init: "zeros" }];
  for (const level of unetLevels(cfg)) {
    const i = level.index;
    const width = pyramidWidth(cfg, i);
    const inCh = i === 0 ? SKETCH_CHANNELS : pyramidWidth(cfg, i - 1);
    specs.push(
      ...convSpecs(`sketch.level.${i}.conv0`, 3, inCh, width),
      ...convSpecs(`sketch.level.${i}.conv1`, 3, width, width),
      ...linearSpecs(`sketch.fuse.${i}`, width, level.inputChannels, { zeroInit: true }),
    );
  }
  return specs;
}

/** sketch: float32 [N, R, R, 1]; cond: float32 [N] → one map per UNet level i, [N, R/2^i, R/2^i, width of level i's input]. */
export function sketchEncoder<T>(ops: Ops<T>, cfg: ModelConfig, sketch: T, cond: T): T[] {
  const [, h, w, c] = ops.shape(sketch);
  if (h !== cfg.resolution || w !== cfg.resolution || c !== SKETCH_CHANNELS) {
    throw new RuntimeFailure(`sketch encoder: sketch input is ${h}×${w}×${c}, expected ${cfg.resolution}×${cfg.resolution}×${SKETCH_CHANNELS}`);
  }
  let f = mixWithNull(ops, sketch, ops.param("sketch.null"), ops.reshape(cond, [0, 1, 1, 1]));
  const features: T[] = [];
  for (const level of unetLevels(cfg)) {
    const i = level.index;
    f = ops.silu(conv(ops, f, `sketch.level.${i}.conv0`, i === 0 ? 1 : 2, [1, 1, 1, 1]));
    f = ops.silu(conv(ops, f, `sketch.level.${i}.conv1`));
    features.push(linear(ops, f, `sketch.fuse.${i}`));
  }
  return features;
}
