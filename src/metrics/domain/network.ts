/**
 * The domain feature network: a small CNN written once against the op interface (so the tfjs
 * interpreter runs it and the ONNX interpreter could export it).
 *
 *   input  [N, 32, 32, 3]  (NHWC, RGB, x/127.5 − 1)
 *   stem   conv3×3 3→16                                   32×32
 *   down.0 GN+SiLU, conv3×3 stride 2 16→32                16×16
 *   mid.0  GN+SiLU, conv3×3 32→32                         16×16
 *   down.1 GN+SiLU, conv3×3 stride 2 32→48                 8×8
 *   mid.1  GN+SiLU, conv3×3 48→48                          8×8
 *   down.2 GN+SiLU, conv3×3 stride 2 48→96                 4×4
 *   proj   conv1×1 96→128, GN+SiLU, global average pool    → 128-d features (FID/KID)
 *   head.* one linear classifier per attribute on the features
 *
 * Convolutions pad (k−1)/2 on every side (PyTorch `padding=k//2`); GroupNorm has 8 groups.
 */
import { conv, groupNorm, linear } from "../../nn/layers.js";
import type { Ops } from "../../nn/ops.js";
import { convSpecs, linearSpecs, normSpecs, type ParamSpec } from "../../model/params.js";

export const INPUT_SIZE = 32;
export const INPUT_CHANNELS = 3;
export const FEATURE_DIMS = 128;
export const GROUPS = 8;

/** The convolution stack: name, kernel, stride, input and output channels. */
const CONVS: readonly { name: string; kernel: number; stride: number; inCh: number; outCh: number }[] = [
  { name: "stem", kernel: 3, stride: 1, inCh: INPUT_CHANNELS, outCh: 16 },
  { name: "down.0", kernel: 3, stride: 2, inCh: 16, outCh: 32 },
  { name: "mid.0", kernel: 3, stride: 1, inCh: 32, outCh: 32 },
  { name: "down.1", kernel: 3, stride: 2, inCh: 32, outCh: 48 },
  { name: "mid.1", kernel: 3, stride: 1, inCh: 48, outCh: 48 },
  { name: "down.2", kernel: 3, stride: 2, inCh: 48, outCh: 96 },
  { name: "proj", kernel: 1, stride: 1, inCh: 96, outCh: FEATURE_DIMS },
];

/** One-line architecture summary for metadata and describe(). */
export const ARCHITECTURE =
  `CNN ${INPUT_SIZE}×${INPUT_SIZE}×${INPUT_CHANNELS} → conv3×3 16 → [GN(${GROUPS})+SiLU, conv3×3 s2 32, GN+SiLU, conv3×3 32] → ` +
  `[GN+SiLU, conv3×3 s2 48, GN+SiLU, conv3×3 48] → [GN+SiLU, conv3×3 s2 96] → conv1×1 ${FEATURE_DIMS}, GN+SiLU, global average pool ` +
  `→ ${FEATURE_DIMS}-d features → one linear head per attribute`;

/** A classification head: `head.<name>` maps the features to `classes.length` logits. */
export interface HeadShape {
  name: string;
  classes: readonly string[];
}

/** Every parameter of the network with the given heads. */
export function networkSpecs(heads: readonly HeadShape[]): ParamSpec[] {
  const specs: ParamSpec[] = [];
  for (const c of CONVS) {
    // every conv but the stem is preceded by a GroupNorm over its input
    if (c.name !== "stem") specs.push(...normSpecs(`${c.name}.norm`, c.inCh));
    specs.push(...convSpecs(`${c.name}.conv`, c.kernel, c.inCh, c.outCh));
  }
  specs.push(...normSpecs("proj.out_norm", FEATURE_DIMS));
  for (const h of heads) specs.push(...linearSpecs(`head.${h.name}`, FEATURE_DIMS, h.classes.length));
  return specs;
}

/** Penultimate features [N, FEATURE_DIMS] of preprocessed images x [N, 32, 32, 3]. */
export function features<T>(ops: Ops<T>, x: T): T {
  let h = x;
  for (const c of CONVS) {
    if (c.name !== "stem") h = ops.silu(groupNorm(ops, h, `${c.name}.norm`, GROUPS));
    h = conv(ops, h, `${c.name}.conv`, c.stride);
  }
  h = ops.silu(groupNorm(ops, h, "proj.out_norm", GROUPS));
  return ops.mean(h, [1, 2], false);
}

/** Logits [N, classes] of one head from features [N, FEATURE_DIMS]. */
export function headLogits<T>(ops: Ops<T>, feats: T, head: string): T {
  return linear(ops, feats, `head.${head}`);
}
