/**
 * The image disturbances of Heusel et al. 2017 (appendix A1, "Fréchet Inception Distance" vs
 * disturbance level): Gaussian noise, Gaussian blur, implanted black rectangles, swirl,
 * salt-and-pepper noise, and contamination with images of another domain. A metric worth
 * reporting rises steadily as the disturbance grows; `diffx metrics check` runs these ladders at
 * an eval's resolution and n to see whether it does there.
 *
 * Every random choice comes from `Rng(seed, disturbance, level, image index)`, so an image's
 * disturbance does not depend on the other images. Levels are given in units that scale with
 * the image size where that matters (blur σ, rectangle side, swirl radius), so a ladder means
 * the same at 8 px as at 128 px.
 */
import { createImage, type Image } from "../engine/image.js";
import { Rng } from "../engine/rng.js";

export type DisturbanceName = "gaussian-noise" | "gaussian-blur" | "black-rectangles" | "swirl" | "salt-and-pepper" | "contamination";

export interface Ladder {
  name: DisturbanceName;
  /** What a level means. */
  unit: string;
  /** Levels, increasing; the first is 0 (no disturbance). */
  levels: number[];
}

export const LADDERS: readonly Ladder[] = [
  { name: "gaussian-noise", unit: "σ of added N(0, σ²) noise, in 0–255 pixel values", levels: [0, 10, 25, 50, 100] },
  { name: "gaussian-blur", unit: "σ of the Gaussian kernel, in 1/32 of the image side", levels: [0, 0.5, 1, 2, 4] },
  { name: "black-rectangles", unit: "number of black squares of side 1/4 of the image, at random places", levels: [0, 1, 2, 4, 8] },
  { name: "swirl", unit: "swirl strength (scikit-image's swirl, radius = the image side)", levels: [0, 1, 2, 4, 8] },
  { name: "salt-and-pepper", unit: "fraction of pixels set to black or white", levels: [0, 0.05, 0.1, 0.25, 0.5] },
  { name: "contamination", unit: "fraction of the images replaced by images of the other domain", levels: [0, 0.25, 0.5, 0.75, 1] },
];

/** The disturbed copy of `images` at `level` (`others`: the other domain's images, for contamination). */
export function disturb(images: readonly Image[], name: DisturbanceName, level: number, seed: number, others: readonly Image[] = []): Image[] {
  if (level === 0) return images.map(copy);
  if (name === "contamination") {
    const replaced = Math.round(level * images.length);
    if (others.length < replaced) throw new Error(`contamination needs ${replaced} images of the other domain, got ${others.length}`);
    return images.map((img, i) => (i < replaced ? copy(others[i]!) : copy(img)));
  }
  return images.map((img, i) => {
    const rng = new Rng(seed, name, level, i);
    if (name === "gaussian-noise") return gaussianNoise(img, level, rng);
    if (name === "gaussian-blur") return gaussianBlur(img, (level * img.width) / 32);
    if (name === "black-rectangles") return blackRectangles(img, level, Math.max(1, Math.round(img.width / 4)), rng);
    if (name === "swirl") return swirl(img, level, img.width);
    return saltAndPepper(img, level, rng);
  });
}

function copy(img: Image): Image {
  return { width: img.width, height: img.height, channels: img.channels, data: Uint8Array.from(img.data) };
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

export function gaussianNoise(img: Image, sigma: number, rng: Rng): Image {
  const out = copy(img);
  for (let k = 0; k < out.data.length; k++) out.data[k] = clamp255(img.data[k]! + sigma * rng.normal());
  return out;
}

/** Separable Gaussian blur, kernel radius ⌈3σ⌉, edges clamped. */
export function gaussianBlur(img: Image, sigma: number): Image {
  if (!(sigma > 0)) return copy(img);
  const r = Math.max(1, Math.ceil(3 * sigma));
  const kernel = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((s, v) => s + v, 0);
  const w = img.width, h = img.height, c = img.channels;
  const pass = (src: Float64Array, horizontal: boolean): Float64Array => {
    const dst = new Float64Array(src.length);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let t = -r; t <= r; t++) {
            const xx = horizontal ? Math.min(w - 1, Math.max(0, x + t)) : x;
            const yy = horizontal ? y : Math.min(h - 1, Math.max(0, y + t));
            s += kernel[t + r]! * src[(yy * w + xx) * c + ch]!;
          }
          dst[(y * w + x) * c + ch] = s / total;
        }
    return dst;
  };
  const blurred = pass(pass(Float64Array.from(img.data), true), false);
  const out = createImage(w, h, c);
  for (let k = 0; k < out.data.length; k++) out.data[k] = clamp255(blurred[k]!);
  return out;
}

export function blackRectangles(img: Image, count: number, side: number, rng: Rng): Image {
  const out = copy(img);
  for (let n = 0; n < count; n++) {
    const x0 = rng.int(Math.max(1, img.width - side + 1)), y0 = rng.int(Math.max(1, img.height - side + 1));
    for (let y = y0; y < Math.min(img.height, y0 + side); y++)
      for (let x = x0; x < Math.min(img.width, x0 + side); x++) for (let ch = 0; ch < img.channels; ch++) out.data[(y * img.width + x) * img.channels + ch] = 0;
  }
  return out;
}

/**
 * scikit-image's swirl (rotation 0): output pixel at distance ρ from the centre, angle θ, reads
 * the input at angle θ + strength · exp(−ρ / r), r = radius · ln 2 / 5 (bilinear, edges clamped).
 */
export function swirl(img: Image, strength: number, radius: number): Image {
  const out = createImage(img.width, img.height, img.channels);
  const cx = (img.width - 1) / 2, cy = (img.height - 1) / 2;
  const rr = Math.log(2) * radius / 5;
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const dx = x - cx, dy = y - cy;
      const rho = Math.hypot(dx, dy);
      const theta = Math.atan2(dy, dx) + strength * Math.exp(-rho / rr);
      const sx = cx + rho * Math.cos(theta), sy = cy + rho * Math.sin(theta);
      for (let ch = 0; ch < img.channels; ch++) out.data[(y * img.width + x) * img.channels + ch] = clamp255(bilinear(img, sx, sy, ch));
    }
  return out;
}

function bilinear(img: Image, x: number, y: number, ch: number): number {
  const cx = Math.min(img.width - 1, Math.max(0, x)), cy = Math.min(img.height - 1, Math.max(0, y));
  const x0 = Math.floor(cx), y0 = Math.floor(cy);
  const x1 = Math.min(img.width - 1, x0 + 1), y1 = Math.min(img.height - 1, y0 + 1);
  const fx = cx - x0, fy = cy - y0;
  const at = (xx: number, yy: number): number => img.data[(yy * img.width + xx) * img.channels + ch]!;
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

export function saltAndPepper(img: Image, fraction: number, rng: Rng): Image {
  const out = copy(img);
  for (let p = 0; p < img.width * img.height; p++) {
    if (!rng.chance(fraction)) continue;
    const v = rng.chance(0.5) ? 255 : 0;
    for (let ch = 0; ch < img.channels; ch++) out.data[p * img.channels + ch] = v;
  }
  return out;
}
