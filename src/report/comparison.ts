/**
 * The real-vs-generated comparison matrix: one row per shown held-out pair (its real image, its
 * sketch for sketch models, then the image each variant generated from the same condition),
 * tiles enlarged by pixel repetition so tiny model resolutions stay visible.
 */
import { createImage, makeGrid, type Image } from "../engine/image.js";
import type { EvalReport } from "./report-types.js";

/** Smallest tile side in the matrix (pixels). */
export const MIN_TILE = 64;

/** Nearest-neighbour enlargement by an integer factor. */
export function upscaleNearest(img: Image, factor: number): Image {
  if (factor <= 1) return img;
  const out = createImage(img.width * factor, img.height * factor, img.channels);
  const c = img.channels;
  for (let y = 0; y < out.height; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < out.width; x++) {
      const sx = Math.floor(x / factor);
      for (let k = 0; k < c; k++) out.data[(y * out.width + x) * c + k] = img.data[(sy * img.width + sx) * c + k];
    }
  }
  return out;
}

export function tileFactor(img: Image): number {
  return Math.max(1, Math.ceil(MIN_TILE / Math.max(img.width, img.height)));
}

/** The columns of the matrix, in order. */
export function comparisonColumns(r: EvalReport): string[] {
  const sketch = r.comparison.rows.some((row) => row.sketch);
  return ["real", ...(sketch ? ["sketch"] : []), ...r.variants.map((v) => v.name)];
}

/** Image paths of one row, in column order. */
export function rowFiles(r: EvalReport, i: number): string[] {
  const row = r.comparison.rows[i];
  const sketch = r.comparison.rows.some((x) => x.sketch);
  return [row.real, ...(sketch ? [row.sketch ?? row.real] : []), ...r.variants.map((v) => row.generated[v.name])];
}

/** The whole matrix as one image (makeGrid), `load` reading an image by its report path. */
export function comparisonGrid(r: EvalReport, load: (rel: string) => Image): Image | null {
  if (r.comparison.rows.length === 0) return null;
  const cols = comparisonColumns(r).length;
  const tiles: Image[] = [];
  r.comparison.rows.forEach((_, i) => {
    for (const f of rowFiles(r, i)) {
      const img = load(f);
      tiles.push(upscaleNearest(img, tileFactor(img)));
    }
  });
  const side = Math.max(...tiles.map((t) => t.width));
  return makeGrid(tiles.map((t) => (t.width === side ? t : upscaleNearest(t, Math.max(1, Math.round(side / t.width))))), cols, 4);
}
