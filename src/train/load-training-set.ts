/** A dataset folder → the in-memory TrainingSet at the model's resolution (area downsampling). */
import * as path from "node:path";
import type { Dataset } from "../data/dataset.js";
import { imageToFloats, readPng, resizeArea } from "../engine/image.js";
import type { TrainingSet } from "./training-set.js";

export async function loadTrainingSet(ds: Dataset, R: number): Promise<TrainingSet> {
  const n = ds.pairs.length;
  const images = new Float32Array(n * R * R * 3);
  const hasSketch = ds.pairs.some((p) => p.sketch);
  const sketches = hasSketch ? new Float32Array(n * R * R) : undefined;
  ds.pairs.forEach((p, i) => {
    images.set(imageToFloats(resizeArea(readPng(path.join(ds.dir, p.image), 3), R)), i * R * R * 3);
    if (sketches && p.sketch) sketches.set(imageToFloats(resizeArea(readPng(path.join(ds.dir, p.sketch), 1), R)), i * R * R);
  });
  const captions = ds.pairs.map((p) => [p.caption, p.caption_zh].filter((c): c is string => typeof c === "string" && c.length > 0));
  return { n, images, sketches, captions, ids: ds.pairs.map((p) => p.id) };
}
