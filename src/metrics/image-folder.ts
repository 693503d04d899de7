/** Image folders for FID/KID: every PNG/JPEG directly inside a folder, in file-name order. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgressSink } from "../engine/progress.js";
import { silentProgress } from "../engine/progress.js";
import { readAnyImage } from "../engine/image.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import type { FeatureExtractor } from "./extractor.js";

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/** Image files directly inside `dir` (not recursive), sorted by name (code-unit order). */
export function listImageFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    throw new UsageError(`${dir}: folder not found or not readable`);
  }
  const files = names
    .filter((n) => IMAGE_EXTENSIONS.has(path.extname(n).toLowerCase()))
    .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
    .map((n) => path.join(dir, n))
    .filter((f) => fs.statSync(f).isFile());
  if (files.length === 0) throw new UsageError(`${dir}: no .png/.jpg/.jpeg images in this folder`);
  return files;
}

/** Features of every image in `dir`, read and extracted `batchSize` images at a time. */
export async function extractFolderFeatures(dir: string, extractor: FeatureExtractor, options: { batchSize?: number; progress?: ProgressSink } = {}): Promise<Float64Array[]> {
  const files = listImageFiles(dir);
  if (files.length < 2) throw new UsageError(`${dir}: 1 image; FID/KID need at least 2 samples per set`);
  const batchSize = options.batchSize ?? 32;
  const progress = options.progress ?? silentProgress;
  const rows: Float64Array[] = [];
  progress.start(`features ${dir}`, files.length);
  try {
    for (let i = 0; i < files.length; i += batchSize) {
      const batch = files.slice(i, i + batchSize);
      const images = await Promise.all(batch.map((f) => readAnyImage(f, 3)));
      const features = await extractor.extract(images);
      features.forEach((row, k) => {
        if (!row.every(Number.isFinite)) throw new RuntimeFailure(`${batch[k]}: the feature extractor ${extractor.name} produced a non-finite value`);
        rows.push(row);
      });
      progress.update(rows.length);
    }
  } finally {
    progress.stop();
  }
  return rows;
}
