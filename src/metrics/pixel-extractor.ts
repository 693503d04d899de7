/**
 * The `pixels` feature extractor: each image resized (half-pixel bilinear) to a small square
 * and its RGB values in [-1, 1] used directly as the feature vector. It needs no trained model,
 * so it works everywhere, but it measures pixel-space statistics (colour, layout), not
 * perceptual similarity: FID/KID on it are not comparable with Inception-based numbers.
 */
import { resizeBilinearFloat, type Image } from "../engine/image.js";
import type { FeatureExtractor } from "./extractor.js";

export const PIXEL_FEATURE_SIZE = 8;

export function pixelExtractor(size = PIXEL_FEATURE_SIZE): FeatureExtractor {
  return {
    name: "pixels",
    dims: size * size * 3,
    describe: () => `pixels: RGB resized to ${size}×${size} (half-pixel bilinear), values scaled to [-1, 1], ${size * size * 3} dims; no learned model`,
    async extract(images: Image[]): Promise<Float64Array[]> {
      return images.map((img) => {
        const rgb = new Float32Array(img.width * img.height * 3);
        for (let i = 0; i < img.width * img.height; i++)
          for (let k = 0; k < 3; k++) rgb[i * 3 + k] = img.data[i * img.channels + (img.channels === 1 ? 0 : k)];
        const small = resizeBilinearFloat(rgb, img.width, img.height, 3, size, size);
        return Float64Array.from(small, (v) => v / 127.5 - 1);
      });
    },
  };
}
