/**
 * Pairs → plain arrays at the model's resolution, for training and evaluation (engine-neutral:
 * callers turn them into tensors). Images are area-downsampled RGB, NHWC, in [-1, 1]; sketches
 * are 1 channel in [-1, 1] (white paper = 1, ink = -1); captions stay text.
 */
import * as path from "node:path";
import { imageToFloats, readPng, type Image } from "../engine/image.js";
import { UsageError } from "../errors.js";
import type { AttributeValue, Dataset } from "./dataset.js";
import { resizeSquare } from "./resize.js";

export interface PairArrays {
  /** Side of every image in pixels. */
  resolution: number;
  /** Number of pairs loaded. */
  count: number;
  /** Index of each loaded pair in `dataset.pairs`. */
  indices: number[];
  ids: string[];
  /** count × resolution × resolution × 3, in [-1, 1]. */
  images: Float32Array;
  /** count × resolution × resolution × 1, in [-1, 1]; null when the dataset has no sketches. */
  sketches: Float32Array | null;
  /** English captions ("" where a pair has none). */
  captions: string[];
  /** Chinese captions ("" where a pair has none). */
  captionsZh: string[];
  attributes: Record<string, AttributeValue>[];
  groups: string[];
}

/** Load the pairs at `indices` (default: all, in order) at `resolution` px. */
export function loadPairArrays(ds: Dataset, resolution: number, indices?: readonly number[]): PairArrays {
  const idx = indices ? [...indices] : ds.pairs.map((_, i) => i);
  for (const i of idx) if (!Number.isInteger(i) || i < 0 || i >= ds.pairs.length) throw new RangeError(`loadPairArrays: pair index ${i} out of range 0..${ds.pairs.length - 1}`);
  const hasSketch = ds.pairs.length > 0 && ds.pairs.every((p) => p.sketch !== undefined);
  const px = resolution * resolution;
  const images = new Float32Array(idx.length * px * 3);
  const sketches = hasSketch ? new Float32Array(idx.length * px) : null;
  idx.forEach((pi, n) => {
    const p = ds.pairs[pi];
    images.set(imageToFloats(resizeSquare(readPairImage(ds, p.image, 3), resolution)), n * px * 3);
    if (sketches && p.sketch !== undefined) sketches.set(imageToFloats(resizeSquare(readPairImage(ds, p.sketch, 1), resolution)), n * px);
  });
  const pairs = idx.map((i) => ds.pairs[i]);
  return {
    resolution,
    count: idx.length,
    indices: idx,
    ids: pairs.map((p) => p.id),
    images,
    sketches,
    captions: pairs.map((p) => p.caption ?? ""),
    captionsZh: pairs.map((p) => p.caption_zh ?? ""),
    attributes: pairs.map((p) => p.attributes),
    groups: pairs.map((p) => p.group),
  };
}

/**
 * One image of a dataset folder, decoded, checked to be square (any side: the loader resizes).
 * `diffx data verify` reads every image through this too, so what it accepts, training reads.
 */
export function readPairImage(ds: Dataset, rel: string, channels: 1 | 3): Image {
  const img = readPng(path.join(ds.dir, rel), channels);
  if (img.width !== img.height) {
    throw new UsageError(`${path.join(ds.dir, rel)}: image is ${img.width}×${img.height}; dataset images must be square (diffx data import crops them)`);
  }
  return img;
}

/** Decode every image and sketch of `ds` as training will (throws the first problem, naming the file). */
export function checkPairImages(ds: Dataset): number {
  let n = 0;
  for (const p of ds.pairs) {
    readPairImage(ds, p.image, 3);
    n++;
    if (p.sketch !== undefined) {
      readPairImage(ds, p.sketch, 1);
      n++;
    }
  }
  return n;
}
