/**
 * Images in memory and on disk. An `Image` is 8-bit, row-major, channels interleaved (HWC),
 * 1 (grey) or 3 (RGB) channels. PNGs are written with pngjs (pure JS, deterministic bytes for
 * a given Node zlib), read with pngjs; other formats (JPEG…) are decoded with sharp.
 */
import * as fs from "node:fs";
import { PNG } from "pngjs";
import sharp from "sharp";
import { writeFileAtomic } from "./atomic.js";
import { UsageError } from "../errors.js";

export interface Image {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export function createImage(width: number, height: number, channels: 1 | 3): Image {
  return { width, height, channels, data: new Uint8Array(width * height * channels) };
}

/** Encode to PNG bytes (8-bit grey or RGB, no alpha). */
export function encodePng(img: Image): Buffer {
  const png = new PNG({ width: img.width, height: img.height, colorType: img.channels === 1 ? 0 : 2, inputColorType: img.channels === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: img.channels === 1 ? 0 : 2, inputColorType: img.channels === 1 ? 0 : 2, inputHasAlpha: false, bitDepth: 8 });
}

export function writePng(file: string, img: Image): void {
  writeFileAtomic(file, encodePng(img));
}

/** Decode PNG bytes to RGB (or grey when `channels` is 1). */
export function decodePng(bytes: Uint8Array, channels: 1 | 3 = 3, name = "<png>"): Image {
  if (bytes.length === 0) throw new UsageError(`${name}: not a readable PNG (empty file, 0 bytes)`);
  checkPngSize(bytes, name);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new UsageError(`${name}: not a readable PNG (${(err as Error).message})`);
  }
  return fromRgba(png.data, png.width, png.height, channels);
}

/** Refuse a PNG whose header claims more than MAX_INPUT_PIXELS before anything is allocated. */
function checkPngSize(bytes: Uint8Array, name: string): void {
  const isPng = bytes.length >= 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (!isPng) return; // pngjs reports what is wrong
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16), height = view.getUint32(20);
  if (width * height > MAX_INPUT_PIXELS) throw new UsageError(`${name}: image too large (${width}×${height} pixels, more than ${MAX_INPUT_PIXELS}); refusing to decode`);
}

export function readPng(file: string, channels: 1 | 3 = 3): Image {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    throw new UsageError(`${file}: file not found or not readable`);
  }
  return decodePng(bytes, channels, file);
}

/** Largest decoded image diffx accepts (pixels), to refuse decompression bombs. */
export const MAX_INPUT_PIXELS = 8192 * 8192;

/** Decode any image sharp understands (PNG, JPEG, WebP…) to RGB or grey. */
export async function readAnyImage(file: string, channels: 1 | 3 = 3): Promise<Image> {
  let size: number;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new UsageError(`${file}: is a folder, not an image`);
    size = st.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${file}: file not found or not readable`);
  }
  if (size === 0) throw new UsageError(`${file}: not a readable image (empty file, 0 bytes)`);
  try {
    const { data, info } = await sharp(file, { limitInputPixels: MAX_INPUT_PIXELS, failOn: "error" })
      .removeAlpha()
      .toColourspace(channels === 1 ? "b-w" : "srgb")
      .raw()
      .toBuffer({ resolveWithObject: true });
    const c = info.channels;
    if (c === channels) return { width: info.width, height: info.height, channels, data: new Uint8Array(data) };
    // sharp may hand back a different channel count; normalise via RGBA-free conversion
    const out = createImage(info.width, info.height, channels);
    for (let i = 0; i < info.width * info.height; i++) {
      if (channels === 1) {
        out.data[i] = c >= 3 ? Math.round(0.299 * data[i * c] + 0.587 * data[i * c + 1] + 0.114 * data[i * c + 2]) : data[i * c];
      } else {
        for (let k = 0; k < 3; k++) out.data[i * 3 + k] = data[i * c + (c >= 3 ? k : 0)];
      }
    }
    return out;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const msg = (err as Error).message || String(err);
    if (/pixel limit/i.test(msg)) throw new UsageError(`${file}: image too large (more than ${MAX_INPUT_PIXELS} pixels); refusing to decode`);
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || /missing|no such file/i.test(msg)) throw new UsageError(`${file}: file not found`);
    throw new UsageError(`${file}: not a readable image (${msg.split("\n")[0].replace(/[:\s]+$/, "")})`);
  }
}

function fromRgba(rgba: Uint8Array, width: number, height: number, channels: 1 | 3): Image {
  const out = createImage(width, height, channels);
  for (let i = 0; i < width * height; i++) {
    const r = rgba[i * 4], g = rgba[i * 4 + 1], b = rgba[i * 4 + 2];
    if (channels === 1) out.data[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else {
      out.data[i * 3] = r;
      out.data[i * 3 + 1] = g;
      out.data[i * 3 + 2] = b;
    }
  }
  return out;
}

/** Box (area) downsampling by an integer factor, or exact copy when sizes match. */
export function resizeArea(img: Image, size: number): Image {
  if (img.width === size && img.height === size) return img;
  if (img.width % size !== 0 || img.height % size !== 0) return resizeBilinear(img, size, size);
  const fx = img.width / size, fy = img.height / size, c = img.channels;
  const out = createImage(size, size, c);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let dy = 0; dy < fy; dy++) for (let dx = 0; dx < fx; dx++) s += img.data[((y * fy + dy) * img.width + x * fx + dx) * c + k];
        out.data[(y * size + x) * c + k] = Math.round(s / (fx * fy));
      }
  return out;
}

/**
 * Half-pixel bilinear resize (the convention of ONNX Resize `half_pixel`, PyTorch
 * `align_corners=False` without antialias). Used wherever diffx resizes for metrics.
 */
export function resizeBilinear(img: Image, width: number, height: number): Image {
  const out = createImage(width, height, img.channels);
  const f = resizeBilinearFloat(Float32Array.from(img.data), img.width, img.height, img.channels, width, height);
  for (let i = 0; i < f.length; i++) out.data[i] = Math.max(0, Math.min(255, Math.round(f[i])));
  return out;
}

/** Half-pixel bilinear resize of an HWC float image. */
export function resizeBilinearFloat(src: Float32Array, w: number, h: number, c: number, ow: number, oh: number): Float32Array {
  const out = new Float32Array(ow * oh * c);
  const sx = w / ow, sy = h / oh;
  for (let y = 0; y < oh; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), h - 1), y1 = Math.min(y0 + 1, h - 1), wy = fy - y0;
    for (let x = 0; x < ow; x++) {
      let fx = (x + 0.5) * sx - 0.5;
      if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), w - 1), x1 = Math.min(x0 + 1, w - 1), wx = fx - x0;
      for (let k = 0; k < c; k++) {
        const a = src[(y0 * w + x0) * c + k], b = src[(y0 * w + x1) * c + k];
        const d = src[(y1 * w + x0) * c + k], e = src[(y1 * w + x1) * c + k];
        out[(y * ow + x) * c + k] = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy;
      }
    }
  }
  return out;
}

/** 8-bit HWC image → floats in [-1, 1], HWC. */
export function imageToFloats(img: Image): Float32Array {
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = img.data[i] / 127.5 - 1;
  return out;
}

/** Floats in [-1, 1], HWC → 8-bit image (clipped, rounded). */
export function floatsToImage(x: Float32Array, width: number, height: number, channels: 1 | 3): Image {
  const img = createImage(width, height, channels);
  for (let i = 0; i < img.data.length; i++) img.data[i] = Math.max(0, Math.min(255, Math.round((x[i] + 1) * 127.5)));
  return img;
}

/** Tile images (all the same size and channel count) into a grid with `cols` columns and a 2-px gap. */
export function makeGrid(images: Image[], cols: number, gap = 2, background = 255): Image {
  if (images.length === 0) return createImage(1, 1, 3);
  const w = images[0].width, h = images[0].height;
  const rows = Math.ceil(images.length / cols);
  const out = createImage(cols * w + (cols + 1) * gap, rows * h + (rows + 1) * gap, 3);
  out.data.fill(background);
  images.forEach((img, i) => {
    const ox = gap + (i % cols) * (w + gap), oy = gap + Math.floor(i / cols) * (h + gap);
    for (let y = 0; y < Math.min(h, img.height); y++)
      for (let x = 0; x < Math.min(w, img.width); x++)
        for (let k = 0; k < 3; k++) out.data[((oy + y) * out.width + ox + x) * 3 + k] = img.data[(y * img.width + x) * img.channels + (img.channels === 1 ? 0 : k)];
  });
  return out;
}
