/**
 * Conv2DBackpropInput (the input gradient of a 2-D convolution) built from the backend's own
 * Conv2D. tfjs-backend-wasm 4.22 implements this kernel as a scalar single-threaded loop that
 * takes about 65 % of a training step (ENGINE-NOTES); Conv2D runs on XNNPACK.
 *
 * For the forward conv y[n,p,q,o] = Σ_{i,j,c} x[n, p·s + i − padTop, q·s + j − padLeft, c] · w[i,j,c,o]
 * the input gradient is
 *     dx[n,h,w,c] = Σ_{p,i,q,j,o : h = p·s + i − padTop, w = q·s + j − padLeft} dy[n,p,q,o] · w[i,j,c,o].
 * Split the output rows by phase a = h mod s (and columns by b = w mod s): h = a + r·s. Only the
 * taps i ≡ (a + padTop) (mod s) reach phase a, i = φ + k·s with φ = (a + padTop) mod s, and then
 * p = r + ⌊(a + padTop)/s⌋ − k. So each phase is a stride-1 "full" correlation of dy with the
 * sub-filter w[φ + k·s] flipped in both spatial axes and with its channel axes swapped
 * (w'[k, l, o, c]), padded so that it yields exactly ⌈H/s⌉ rows. The s² phase results are then
 * interleaved (stack + reshape) and cropped to H × W.
 * This does the same multiply-adds as the forward conv; the textbook alternative (dilate dy with
 * s − 1 zeros, then one conv with the whole filter) does s² times as many, mostly with zeros.
 * With s = 1 there is one phase and no interleaving.
 * A 1×1, stride-1, unpadded conv is a plain matrix product: dx = dy · wᵀ.
 */
import * as tf from "@tensorflow/tfjs";
import { convGeometry, type ConvGeometry } from "./conv-geometry.js";
import { isPointwise } from "./conv2d-backprop-filter.js";
import { withKernelScope, type KernelScope } from "./kernel-scope.js";

function pointwiseInputGrad(s: KernelScope, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const pixels = g.batch * g.outHeight * g.outWidth;
  const a = s.run("Reshape", { x: dy }, { shape: [1, pixels, g.outChannels] });
  const w2 = s.run("Reshape", { x: filter }, { shape: [g.inChannels, g.outChannels] });
  const wt = s.run("Transpose", { x: w2 }, { perm: [1, 0] });
  const b = s.run("Reshape", { x: wt }, { shape: [1, g.outChannels, g.inChannels] });
  const dx = s.run("BatchMatMul", { a, b }, { transposeA: false, transposeB: false });
  return s.run("Reshape", { x: dx }, { shape: [g.batch, g.inHeight, g.inWidth, g.inChannels] });
}

/** One phase along one axis: which taps reach it and how to pad dy so the correlation yields `rows` outputs. */
interface PhasePlan {
  /** Number of filter taps reaching this phase (0: the phase gets no gradient). */
  taps: number;
  /** First of those taps in the spatially flipped filter (they are `stride` apart). */
  flippedStart: number;
  /** Padding before/after dy (negative = crop). */
  padBefore: number;
  padAfter: number;
}

function phasePlan(phase: number, pad: number, stride: number, filterSize: number, dySize: number, rows: number): PhasePlan {
  const firstTap = (phase + pad) % stride;
  const shift = Math.floor((phase + pad) / stride);
  const taps = firstTap < filterSize ? Math.ceil((filterSize - firstTap) / stride) : 0;
  const lastTap = firstTap + (taps - 1) * stride;
  return {
    taps,
    flippedStart: filterSize - 1 - lastTap,
    padBefore: taps - 1 - shift,
    padAfter: rows - dySize + shift,
  };
}

/** The gradient for output phase (rowPhase, colPhase): [N, ⌈H/sh⌉, ⌈W/sw⌉, C]. */
function phaseGrad(
  s: KernelScope,
  dy: tf.TensorInfo,
  flippedFilter: tf.TensorInfo,
  g: ConvGeometry,
  rowPlan: PhasePlan,
  colPlan: PhasePlan,
  rows: number,
  cols: number,
): tf.TensorInfo {
  const outShape = [g.batch, rows, cols, g.inChannels];
  if (rowPlan.taps === 0 || colPlan.taps === 0) return s.run("Fill", {}, { shape: outShape, value: 0, dtype: "float32" });
  const whole = rowPlan.taps === g.filterHeight && colPlan.taps === g.filterWidth;
  const sub = whole
    ? flippedFilter
    : s.run(
        "StridedSlice",
        { x: flippedFilter },
        {
          begin: [rowPlan.flippedStart, colPlan.flippedStart, 0, 0],
          end: [rowPlan.flippedStart + (rowPlan.taps - 1) * g.strideHeight + 1, colPlan.flippedStart + (colPlan.taps - 1) * g.strideWidth + 1, g.outChannels, g.inChannels],
          strides: [g.strideHeight, g.strideWidth, 1, 1],
          beginMask: 0,
          endMask: 0,
          ellipsisMask: 0,
          newAxisMask: 0,
          shrinkAxisMask: 0,
        },
      );
  // Negative padding means "crop": convolve unpadded on that side and slice afterwards.
  const conv = s.run(
    "Conv2D",
    { x: dy, filter: sub },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [Math.max(0, rowPlan.padBefore), Math.max(0, rowPlan.padAfter)],
        [Math.max(0, colPlan.padBefore), Math.max(0, colPlan.padAfter)],
        [0, 0],
      ],
      dataFormat: "NHWC",
      dilations: [1, 1],
    },
  );
  if (conv.shape[1] === rows && conv.shape[2] === cols) return conv;
  return s.run("Slice", { x: conv }, { begin: [0, Math.max(0, -rowPlan.padBefore), Math.max(0, -colPlan.padBefore), 0], size: outShape });
}

/** Stack `parts` along a new axis after `axis − 1` and merge it into axis − 1 (interleaving). */
function interleave(s: KernelScope, parts: tf.TensorInfo[], axis: number): tf.TensorInfo {
  if (parts.length === 1) return parts[0]!;
  const stacked = s.run("Pack", parts as unknown as tf.NamedTensorInfoMap, { axis });
  const shape = parts[0]!.shape.slice();
  shape[axis - 1] = shape[axis - 1]! * parts.length;
  return s.run("Reshape", { x: stacked }, { shape });
}

function convInputGrad(s: KernelScope, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const reversed = s.run("Reverse", { x: filter }, { dims: [0, 1] });
  const flipped = s.run("Transpose", { x: reversed }, { perm: [0, 1, 3, 2] }); // [fh, fw, O, C], spatially flipped
  const rows = Math.ceil(g.inHeight / g.strideHeight);
  const cols = Math.ceil(g.inWidth / g.strideWidth);
  const rowBlocks: tf.TensorInfo[] = [];
  for (let a = 0; a < g.strideHeight; a++) {
    const rowPlan = phasePlan(a, g.padTop, g.strideHeight, g.filterHeight, g.outHeight, rows);
    const colParts: tf.TensorInfo[] = [];
    for (let b = 0; b < g.strideWidth; b++) {
      const colPlan = phasePlan(b, g.padLeft, g.strideWidth, g.filterWidth, g.outWidth, cols);
      colParts.push(phaseGrad(s, dy, flipped, g, rowPlan, colPlan, rows, cols));
    }
    rowBlocks.push(interleave(s, colParts, 3)); // [N, rows, cols·sw, C]
  }
  const full = interleave(s, rowBlocks, 2); // [N, rows·sh, cols·sw, C]
  if (full.shape[1] === g.inHeight && full.shape[2] === g.inWidth) return full;
  return s.run("Slice", { x: full }, { begin: [0, 0, 0, 0], size: [g.batch, g.inHeight, g.inWidth, g.inChannels] });
}

/** The kernel function for `backendName`, composed from that backend's registered kernels. */
export function conv2dBackpropInputKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs;
    if (dy === undefined || filter === undefined) throw new Error("Conv2DBackpropInput needs inputs dy and filter");
    const g = convGeometry(attrs?.["inputShape"], filter.shape, attrs ?? {});
    if (dy.shape[1] !== g.outHeight || dy.shape[2] !== g.outWidth || dy.shape[3] !== g.outChannels) {
      throw new Error(`Conv2DBackpropInput: dy shape ${JSON.stringify(dy.shape)} does not match the forward output [${g.batch},${g.outHeight},${g.outWidth},${g.outChannels}]`);
    }
    return withKernelScope(backend, backendName, (s) => (isPointwise(g) ? pointwiseInputGrad(s, dy, filter, g) : convInputGrad(s, dy, filter, g)));
  };
}
