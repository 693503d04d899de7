/** Square crops and resizes used by import and the loader (area averaging when shrinking). */
import { createImage, resizeArea, resizeBilinear, type Image } from "../engine/image.js";

/** The largest centred square of an image. */
export function centreCropSquare(img: Image): Image {
  const side = Math.min(img.width, img.height);
  if (img.width === side && img.height === side) return img;
  const x0 = Math.floor((img.width - side) / 2), y0 = Math.floor((img.height - side) / 2);
  const out = createImage(side, side, img.channels);
  const c = img.channels;
  for (let y = 0; y < side; y++) {
    const from = ((y0 + y) * img.width + x0) * c;
    out.data.set(img.data.subarray(from, from + side * c), y * side * c);
  }
  return out;
}

/**
 * Resize a square image to `size`: box (area) averaging by an integer factor when shrinking
 * (after a bilinear step to the nearest multiple of `size` if needed), bilinear when enlarging.
 */
export function resizeSquare(img: Image, size: number): Image {
  if (img.width !== img.height) throw new Error(`resizeSquare: image is ${img.width}×${img.height}, not square`);
  if (img.width === size) return img;
  if (img.width < size) return resizeBilinear(img, size, size);
  const factor = Math.floor(img.width / size);
  const multiple = img.width % size === 0 ? img : resizeBilinear(img, size * factor, size * factor);
  return factor > 1 ? resizeArea(multiple, size) : multiple;
}
