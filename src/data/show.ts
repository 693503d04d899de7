/**
 * Looking at a dataset: a summary (kind, n, attribute counts, hash) and a labelled contact
 * sheet — each image with its id and caption, or each sketch beside its render.
 */
import * as path from "node:path";
import { createImage, readPng, writePng, type Image } from "../engine/image.js";
import type { Dataset, GeneratorInfo } from "./dataset.js";
import { drawText, GLYPH_HEIGHT, GLYPH_WIDTH, wrapText } from "./font.js";
import { resizeSquare } from "./resize.js";

export type AttributeSummary = { kind: "counts"; counts: Record<string, number> } | { kind: "range"; min: number; max: number; mean: number };

export interface DatasetSummary {
  dir: string;
  kind: string;
  n: number;
  image_size: number;
  hash: string;
  generator: GeneratorInfo;
  seed: number | null;
  /** Per attribute: counts of each value, or the range of a numeric attribute with many values. */
  attributes: Record<string, AttributeSummary>;
  /** Pairs with an English / a Chinese caption. */
  captions: { en: number; zh: number };
  groups: number;
}

export function summarizeDataset(ds: Dataset): DatasetSummary {
  const keys = [...new Set(ds.pairs.flatMap((p) => Object.keys(p.attributes)))];
  const attributes: Record<string, AttributeSummary> = {};
  for (const key of keys) {
    const values = ds.pairs.filter((p) => Object.hasOwn(p.attributes, key)).map((p) => p.attributes[key]);
    const distinct = new Set(values.map(String));
    if (values.every((v) => typeof v === "number") && distinct.size > 12) {
      const nums = values as number[];
      // reduce, not Math.min(...nums): spreading a large dataset's values overflows the call stack
      attributes[key] = { kind: "range", min: nums.reduce((a, b) => Math.min(a, b)), max: nums.reduce((a, b) => Math.max(a, b)), mean: nums.reduce((a, b) => a + b, 0) / nums.length };
    } else {
      const counts: Record<string, number> = {};
      for (const v of [...distinct].sort()) counts[v] = 0;
      for (const v of values) counts[String(v)] += 1;
      attributes[key] = { kind: "counts", counts };
    }
  }
  return {
    dir: ds.dir,
    kind: ds.kind,
    n: ds.pairs.length,
    image_size: ds.imageSize,
    hash: ds.hash,
    generator: ds.manifest.generator,
    seed: ds.manifest.seed,
    attributes,
    captions: { en: ds.pairs.filter((p) => p.caption).length, zh: ds.pairs.filter((p) => p.caption_zh).length },
    groups: new Set(ds.pairs.map((p) => p.group)).size,
  };
}

/** Nearest-neighbour enlargement by an integer factor (keeps small images crisp on the sheet). */
function enlarge(img: Image, factor: number): Image {
  if (factor === 1) return img;
  const out = createImage(img.width * factor, img.height * factor, img.channels);
  const c = img.channels;
  for (let y = 0; y < out.height; y++)
    for (let x = 0; x < out.width; x++) {
      const s = (Math.floor(y / factor) * img.width + Math.floor(x / factor)) * c, o = (y * out.width + x) * c;
      for (let k = 0; k < c; k++) out.data[o + k] = img.data[s + k];
    }
  return out;
}

function blit(dst: Image, src: Image, ox: number, oy: number): void {
  for (let y = 0; y < src.height; y++)
    for (let x = 0; x < src.width; x++) {
      const px = ox + x, py = oy + y;
      if (px >= dst.width || py >= dst.height) continue;
      const s = (y * src.width + x) * src.channels, o = (py * dst.width + px) * 3;
      for (let k = 0; k < 3; k++) dst.data[o + k] = src.data[s + (src.channels === 1 ? 0 : k)];
    }
}

export const CONTACT_FILE = "contact.png";

/** The contact sheet image: up to `maxPairs` pairs in a labelled grid. */
export function contactSheet(ds: Dataset, maxPairs = 120): Image {
  const s = ds.imageSize;
  const display = s < 96 ? s * Math.ceil(96 / s) : s > 192 ? 128 : s;
  const prep = (img: Image): Image => (s < 96 ? enlarge(img, display / s) : s > 192 ? resizeSquare(img, display) : img);
  const paired = ds.kind === "sketch2render";
  const gap = 6;
  const tileW = paired ? 2 * display + 2 : display;
  const maxChars = Math.floor(tileW / GLYPH_WIDTH);
  const labelLines = 5;
  const tileH = display + 3 + labelLines * GLYPH_HEIGHT;
  const shown = ds.pairs.slice(0, maxPairs);
  const cols = Math.max(1, Math.min(shown.length, paired ? 4 : 8));
  const rows = Math.max(1, Math.ceil(shown.length / cols));
  const sheet = createImage(cols * tileW + (cols + 1) * gap, rows * tileH + (rows + 1) * gap, 3);
  sheet.data.fill(255);
  shown.forEach((p, i) => {
    const ox = gap + (i % cols) * (tileW + gap), oy = gap + Math.floor(i / cols) * (tileH + gap);
    if (paired && p.sketch !== undefined) {
      blit(sheet, prep(readPng(path.join(ds.dir, p.sketch), 1)), ox, oy);
      blit(sheet, prep(readPng(path.join(ds.dir, p.image), 3)), ox + display + 2, oy);
    } else blit(sheet, prep(readPng(path.join(ds.dir, p.image), 3)), ox, oy);
    const attrs = Object.values(p.attributes).filter((v) => typeof v === "string").join(" ");
    const text = p.caption ?? (attrs || (p.source ?? ""));
    const lines = [p.id, ...wrapText(text, maxChars)].slice(0, labelLines);
    lines.forEach((line, li) => drawText(sheet, line, ox, oy + display + 3 + li * GLYPH_HEIGHT, li === 0 ? [150, 30, 30] : [40, 40, 40]));
  });
  return sheet;
}

/** Write the contact sheet to `<dataset>/contact.png` (not part of the dataset's manifest). */
export function writeContactSheet(ds: Dataset, file: string = path.join(ds.dir, CONTACT_FILE)): string {
  writePng(file, contactSheet(ds));
  return file;
}
