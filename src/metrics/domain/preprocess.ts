/**
 * Image → network input of the domain feature network: RGB (a grey image is replicated to
 * three channels), resized to 32×32 with half-pixel bilinear (resizeBilinearFloat on 0–255
 * floats: no antialias, no crop, aspect ratio not kept; the same rule as the onnx extractor),
 * then scaled to [-1, 1] by x/127.5 − 1. Output is HWC float32, ready to stack as NHWC.
 */
import { resizeBilinearFloat, type Image } from "../../engine/image.js";
import { INPUT_CHANNELS, INPUT_SIZE } from "./network.js";

export const RESIZE_RULE = "half-pixel bilinear (no antialias, no crop, aspect ratio not kept)";
export const NORMALIZATION = "[-1,1] (x/127.5 − 1)";

/** Floats per preprocessed image. */
export const INPUT_VOLUME = INPUT_SIZE * INPUT_SIZE * INPUT_CHANNELS;

/** One image as a 32×32×3 HWC float32 block in [-1, 1], written into `out` at `offset`. */
export function preprocess(img: Image, out: Float32Array = new Float32Array(INPUT_VOLUME), offset = 0): Float32Array {
  const pixels = img.width * img.height;
  const rgb = new Float32Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    if (img.channels === 3) {
      rgb[i * 3] = img.data[i * 3];
      rgb[i * 3 + 1] = img.data[i * 3 + 1];
      rgb[i * 3 + 2] = img.data[i * 3 + 2];
    } else {
      rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = img.data[i];
    }
  }
  const resized = img.width === INPUT_SIZE && img.height === INPUT_SIZE ? rgb : resizeBilinearFloat(rgb, img.width, img.height, 3, INPUT_SIZE, INPUT_SIZE);
  for (let i = 0; i < INPUT_VOLUME; i++) out[offset + i] = resized[i] / 127.5 - 1;
  return out;
}

/**
 * A training augmentation of a preprocessed 32×32×3 block: mirrored left–right (`flip`), then
 * shifted by (dx, dy) pixels with the border pixels repeated. Written into `out` at `offset`.
 */
export interface Augmentation {
  flip: boolean;
  dx: number;
  dy: number;
}

export function augmentInto(src: Float32Array, a: Augmentation, out: Float32Array, offset: number): void {
  const S = INPUT_SIZE, C = INPUT_CHANNELS, last = S - 1;
  const clamp = (v: number) => (v < 0 ? 0 : v > last ? last : v);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const sy = clamp(y - a.dy);
      const sx = a.flip ? last - clamp(x - a.dx) : clamp(x - a.dx);
      const o = offset + (y * S + x) * C, i = (sy * S + sx) * C;
      for (let k = 0; k < C; k++) out[o + k] = src[i + k];
    }
}
