/**
 * A fold's held-out pairs at a model resolution, prepared exactly as training prepares pairs
 * (loadTrainingSet: area downsampling of the stored PNGs): the real images the generated ones
 * are compared with, the captions and sketches they are generated from, and the attributes the
 * control metrics check. The real images and sketches are also written as PNGs into the fold
 * folder (`real-<R>px/`, `sketches-<R>px/`) so every score can be recomputed from files.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Dataset, AttributeValue } from "../data/dataset.js";
import { floatsToImage, writePng, type Image } from "../engine/image.js";
import { loadTrainingSet } from "../train/load-training-set.js";
import type { TrainingSet } from "../train/training-set.js";
import type { Condition } from "../sample/conditions.js";
import { UsageError } from "../errors.js";

export interface HeldOut {
  resolution: number;
  ids: string[];
  /** Real images at the model resolution (RGB). */
  images: Image[];
  /** Sketches at the model resolution (grey), sketch datasets only. */
  sketches: Image[] | null;
  /** Sketch pixels in [-1, 1] as the network takes them. */
  sketchFloats: Float32Array[] | null;
  /** English caption (first caption) per pair; null without captions. */
  captions: (string | null)[];
  /** Chinese caption (caption_zh) per pair; null where the pair has none. */
  captionsZh: (string | null)[];
  attributes: Record<string, AttributeValue>[];
  /** PNG paths relative to the eval folder. */
  imageFiles: string[];
  sketchFiles: string[] | null;
}

/** Loads each resolution's pairs once per eval. */
export class HeldOutLoader {
  private sets = new Map<number, Promise<TrainingSet>>();

  constructor(
    private readonly ds: Dataset,
    private readonly evalDir: string,
  ) {}

  private all(R: number): Promise<TrainingSet> {
    let s = this.sets.get(R);
    if (!s) {
      s = loadTrainingSet(this.ds, R);
      this.sets.set(R, s);
    }
    return s;
  }

  /** The pair id of dataset row r. */
  pairId(r: number): string {
    return this.ds.pairs[r].id;
  }

  /** Images of dataset rows at resolution R, prepared as for training (the real-vs-real floor). */
  async images(rows: readonly number[], R: number): Promise<Image[]> {
    const set = await this.all(R);
    return rows.map((r) => floatsToImage(set.images.subarray(r * R * R * 3, (r + 1) * R * R * 3), R, R, 3));
  }

  async fold(fold: number, rows: readonly number[], R: number): Promise<HeldOut> {
    const set = await this.all(R);
    const images = rows.map((r) => floatsToImage(set.images.subarray(r * R * R * 3, (r + 1) * R * R * 3), R, R, 3));
    const sketchFloats = set.sketches ? rows.map((r) => (set.sketches as Float32Array).slice(r * R * R, (r + 1) * R * R)) : null;
    const sketches = sketchFloats ? sketchFloats.map((s) => floatsToImage(s, R, R, 1)) : null;
    const ids = rows.map((r) => set.ids[r]);
    const rel = (dir: string, id: string): string => `fold-${fold}/${dir}-${R}px/${id}.png`;
    const imageFiles = ids.map((id) => rel("real", id));
    const sketchFiles = sketches ? ids.map((id) => rel("sketches", id)) : null;
    ids.forEach((id, k) => {
      writeIfMissing(path.join(this.evalDir, imageFiles[k]), images[k]);
      if (sketches && sketchFiles) writeIfMissing(path.join(this.evalDir, sketchFiles[k]), sketches[k]);
    });
    return {
      resolution: R,
      ids,
      images,
      sketches,
      sketchFloats,
      captions: rows.map((r) => set.captions[r][0] ?? null),
      captionsZh: rows.map((r) => this.ds.pairs[r].caption_zh ?? null),
      attributes: rows.map((r) => this.ds.pairs[r].attributes),
      imageFiles,
      sketchFiles,
    };
  }
}

function writeIfMissing(file: string, img: Image): void {
  if (!fs.existsSync(file)) writePng(file, img);
}

export type CaptionLanguage = "en" | "zh";

/** The caption of held-out pair k in `language` (UsageError when the pair has none in it). */
function captionOf(h: HeldOut, k: number, language: CaptionLanguage): string {
  if (language === "en") return h.captions[k] ?? "";
  const zh = h.captionsZh[k];
  if (zh === null || zh.length === 0) throw new UsageError(`sample.language zh: held-out pair ${h.ids[k]} has no caption_zh (the dataset has no Chinese caption for it)`);
  return zh;
}

/** The condition of generated sample j: held-out pair j mod n (cycling through the fold). */
export function conditionFor(h: HeldOut, conditioning: string, j: number, language: CaptionLanguage = "en"): Condition {
  const k = j % h.ids.length;
  if (conditioning === "text") return { prompt: captionOf(h, k, language) };
  if (conditioning === "sketch" && h.sketchFloats) return { sketch: h.sketchFloats[k], sketchSource: h.ids[k] };
  return {};
}

/** Human-readable condition of pair k (for samples.jsonl and the comparison matrix). */
export function describeCondition(h: HeldOut, conditioning: string, k: number, language: CaptionLanguage = "en"): string {
  if (conditioning === "text") return captionOf(h, k, language);
  if (conditioning === "sketch") return `sketch of pair ${h.ids[k]}`;
  return "unconditional";
}
