/**
 * Sketch fidelity: how well the edges of a generated image follow the sketch it was conditioned
 * on, as a boundary F1 score with a pixel tolerance (the BSDS boundary benchmark's measure,
 * with the tolerance as a square neighbourhood instead of a one-to-one matching).
 *
 * - Sketch edges: pixels whose luma (0..1) is at most `sketchThreshold` (dark strokes on white;
 *   at model resolution a stroke greys a pixel rather than blackening it).
 * - Image edges: pixels whose Sobel gradient magnitude of the luma, divided by 4 (so a sharp
 *   step of height h gives h beside it), is at least `gradientThreshold`. Borders replicate the
 *   edge pixel (scipy.ndimage's "nearest"/"reflect" modes agree for a 3×3 kernel).
 * - precision = predicted edge pixels within `tolerance` px (Chebyshev) of a sketch edge /
 *   predicted edge pixels; recall = sketch edge pixels within `tolerance` of a predicted edge /
 *   sketch edge pixels; F1 = 2PR / (P + R). Both maps empty: P = R = F1 = 1; one map empty:
 *   F1 = 0.
 */
import type { Image } from "../engine/image.js";

export interface EdgeOptions {
  /** Pixel tolerance (Chebyshev distance) when matching edges. */
  tolerance: number;
  /** Sobel magnitude / 4 of the luma (0..1) at or above which a pixel is an image edge. */
  gradientThreshold: number;
  /** Luma (0..1) at or below which a sketch pixel is a stroke. */
  sketchThreshold: number;
}

export const DEFAULT_EDGE_OPTIONS: EdgeOptions = { tolerance: 1, gradientThreshold: 0.1, sketchThreshold: 0.85 };

export interface EdgeScore {
  precision: number;
  recall: number;
  f1: number;
}

/** Luma in [0, 1] per pixel (Rec. 601 weights for RGB). */
export function luma(img: Image): Float64Array {
  const n = img.width * img.height;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = img.channels === 1 ? img.data[i] / 255 : (0.299 * img.data[i * 3] + 0.587 * img.data[i * 3 + 1] + 0.114 * img.data[i * 3 + 2]) / 255;
  }
  return out;
}

/** Sobel gradient magnitude / 4 of a w × h field, borders replicated. */
export function sobelMagnitude(field: Float64Array, w: number, h: number): Float64Array {
  const at = (x: number, y: number): number => field[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))];
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      out[y * w + x] = Math.hypot(gx, gy) / 4;
    }
  }
  return out;
}

/** Edge mask (1 = edge) of an image: Sobel magnitude / 4 of its luma ≥ threshold. */
export function imageEdges(img: Image, gradientThreshold: number): Uint8Array {
  const mag = sobelMagnitude(luma(img), img.width, img.height);
  return Uint8Array.from(mag, (m) => (m >= gradientThreshold ? 1 : 0));
}

/** Stroke mask (1 = stroke) of a sketch: luma ≤ threshold. */
export function sketchEdges(sketch: Image, sketchThreshold: number): Uint8Array {
  return Uint8Array.from(luma(sketch), (v) => (v <= sketchThreshold ? 1 : 0));
}

/** Binary dilation with a (2r + 1)² square. */
export function dilate(mask: Uint8Array, w: number, h: number, r: number): Uint8Array {
  if (r <= 0) return Uint8Array.from(mask);
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) out[yy * w + xx] = 1;
    }
  }
  return out;
}

/** Boundary precision, recall and F1 of `predicted` against `truth` (both w × h masks). */
export function edgeF1(predicted: Uint8Array, truth: Uint8Array, w: number, h: number, tolerance: number): EdgeScore {
  const nPred = count(predicted), nTruth = count(truth);
  if (nPred === 0 && nTruth === 0) return { precision: 1, recall: 1, f1: 1 };
  if (nPred === 0) return { precision: 1, recall: 0, f1: 0 };
  if (nTruth === 0) return { precision: 0, recall: 1, f1: 0 };
  const nearTruth = dilate(truth, w, h, tolerance);
  const nearPred = dilate(predicted, w, h, tolerance);
  let hitPred = 0, hitTruth = 0;
  for (let i = 0; i < w * h; i++) {
    if (predicted[i] && nearTruth[i]) hitPred++;
    if (truth[i] && nearPred[i]) hitTruth++;
  }
  const precision = hitPred / nPred, recall = hitTruth / nTruth;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

/** Edges of `image` scored against the strokes of `sketch` (same width and height). */
export function sketchFidelity(image: Image, sketch: Image, o: EdgeOptions = DEFAULT_EDGE_OPTIONS): EdgeScore {
  if (image.width !== sketch.width || image.height !== sketch.height) {
    throw new RangeError(`sketch fidelity needs images of the same size: ${image.width}×${image.height} vs sketch ${sketch.width}×${sketch.height}`);
  }
  return edgeF1(imageEdges(image, o.gradientThreshold), sketchEdges(sketch, o.sketchThreshold), image.width, image.height, o.tolerance);
}

function count(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) n += v;
  return n;
}
