/**
 * ResizeNearestNeighborGrad for the pure-JS `cpu` backend (registered for cpu only).
 *
 * The stock kernel in tfjs-backend-cpu 4.22 reads dy at the *images* batch offset
 * (`batchOffset + dyR * dyStrides[1]` with `batchOffset = b * imagesStrides[0]`), so every image
 * after the first in a batch gets a wrong gradient (ENGINE-NOTES: 0.46 relative L2 error on a
 * full model at batch 16). It also ignores `halfPixelCenters`.
 *
 * This kernel is the exact adjoint of the cpu forward kernel: the forward copies
 * x[b, src(r), src(c), d] to y[b, r, c, d]; the gradient adds dy[b, r, c, d] into
 * dx[b, src(r), src(c), d], with src() computed by the same formula as the forward
 * (tfjs-backend-cpu ResizeNearestNeighbor.js), including alignCorners and halfPixelCenters.
 */
import type * as tf from "@tensorflow/tfjs";
import { float32View, newFloat32 } from "./host-io.js";

/** Source index along one axis for each output index, as the cpu forward kernel computes it. */
export function nearestSourceIndices(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const effectiveIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effectiveOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effectiveIn / effectiveOut;
  const src = new Int32Array(outSize);
  for (let r = 0; r < outSize; r++) {
    const frac = halfPixelCenters ? ratio * (r + 0.5) : ratio * r;
    let nearest = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) nearest = Math.max(0, nearest);
    src[r] = nearest;
  }
  return src;
}

export const resizeNearestNeighborGradKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { images, dy } = inputs;
  if (images === undefined || dy === undefined) throw new Error("ResizeNearestNeighborGrad needs inputs images and dy");
  if (images.shape.length !== 4 || dy.shape.length !== 4) throw new Error("ResizeNearestNeighborGrad expects rank-4 NHWC images and dy");
  const [batch, inHeight, inWidth, depth] = images.shape as [number, number, number, number];
  const [dyBatch, outHeight, outWidth, dyDepth] = dy.shape as [number, number, number, number];
  if (dyBatch !== batch || dyDepth !== depth) {
    throw new Error(`ResizeNearestNeighborGrad: dy ${JSON.stringify(dy.shape)} does not match images ${JSON.stringify(images.shape)}`);
  }
  const alignCorners = attrs?.["alignCorners"] === true;
  const halfPixelCenters = attrs?.["halfPixelCenters"] === true;
  const srcRow = nearestSourceIndices(inHeight, outHeight, alignCorners, halfPixelCenters);
  const srcCol = nearestSourceIndices(inWidth, outWidth, alignCorners, halfPixelCenters);
  const result = newFloat32(backend, "cpu", [batch, inHeight, inWidth, depth]);
  const dx = result.values;
  dx.fill(0);
  const dyValues = float32View(backend, "cpu", dy);
  let k = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outHeight; r++) {
      const rowBase = (b * inHeight + srcRow[r]) * inWidth;
      for (let c = 0; c < outWidth; c++) {
        const base = (rowBase + srcCol[c]) * depth;
        for (let d = 0; d < depth; d++) dx[base + d] += dyValues[k++];
      }
    }
  }
  return result.info;
};
