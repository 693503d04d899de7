/**
 * Image folders for FID/KID: every PNG/JPEG directly inside a folder, in file-name order; in a
 * folder written by `diffx sample` (it holds samples.jsonl), the samples its records name, so
 * its grid.png (a mosaic of the first 64) is not scored as one more image.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProgressSink } from "../engine/progress.js";
import { silentProgress } from "../engine/progress.js";
import { readAnyImage } from "../engine/image.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import type { FeatureExtractor } from "./extractor.js";
import { SAMPLES_FILE } from "../sample/sample-folder.js";

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
  const listed = sampleFolderFiles(dir);
  return listed ? files.filter((f) => listed.has(path.basename(f))) : files;
}

/** The image names a `diffx sample` folder's samples.jsonl records, or null for any other folder. */
function sampleFolderFiles(dir: string): Set<string> | null {
  const file = path.join(dir, SAMPLES_FILE);
  if (!fs.existsSync(file)) return null;
  const names = new Set<string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new UsageError(`${file}: a line is not JSON; this folder's samples cannot be told from its other images`);
    }
    const name = (record as { file?: unknown }).file;
    if (typeof name === "string") names.add(path.basename(name));
  }
  return names;
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
