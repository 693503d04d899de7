/**
 * Pairs → plain arrays at the model's resolution, for training and evaluation (engine-neutral:
 * callers turn them into tensors). Images are area-downsampled RGB, NHWC, in [-1, 1]; sketches
 * are 1 channel in [-1, 1] (white paper = 1, ink = -1); captions stay text.
 */
import * as path from "node:path";
import { imageToFloats, readPng } from "../engine/image.js";
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
    images.set(imageToFloats(resizeSquare(readPng(path.join(ds.dir, p.image), 3), resolution)), n * px * 3);
    if (sketches && p.sketch !== undefined) sketches.set(imageToFloats(resizeSquare(readPng(path.join(ds.dir, p.sketch), 1), resolution)), n * px);
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
