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
 * interleaved into H × W by a JS loop.
 * This does the same multiply-adds as the forward conv; the textbook alternative (dilate dy with
 * s − 1 zeros, then one conv with the whole filter) does s² times as many, mostly with zeros.
 * With s = 1 there is one phase and no interleaving.
 * A 1×1, stride-1, unpadded conv is a plain matrix product: dx = dy · wᵀ.
 */
import * as tf from "@tensorflow/tfjs";
import { convGeometry, isPointwise, type ConvGeometry } from "./conv-geometry.js";
import { float32View, newFloat32 } from "./host-io.js";
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
  /** First of those taps in the filter (they are `stride` apart). */
  firstTap: number;
  /** Padding before/after dy (negative = crop). */
  padBefore: number;
  padAfter: number;
}

function phasePlan(phase: number, pad: number, stride: number, filterSize: number, dySize: number, rows: number): PhasePlan {
  const firstTap = (phase + pad) % stride;
  const shift = Math.floor((phase + pad) / stride);
  const taps = firstTap < filterSize ? Math.ceil((filterSize - firstTap) / stride) : 0;
  return {
    taps,
    firstTap,
    padBefore: taps - 1 - shift,
    padAfter: rows - dySize + shift,
  };
}

/**
 * The phase's sub-filter, flipped in both spatial axes, channel axes swapped:
 * w'[k, l, o, c] = w[firstTapH + (K − 1 − k)·sh, firstTapW + (L − 1 − l)·sw, c, o] — one JS loop
 * over a few thousand weights instead of Reverse + Transpose + StridedSlice kernels.
 */
function phaseFilter(s: KernelScope, backend: unknown, backendName: string, filter: tf.TensorInfo, g: ConvGeometry, rowPlan: PhasePlan, colPlan: PhasePlan): tf.TensorInfo {
  const { taps: kh } = rowPlan;
  const { taps: kw } = colPlan;
  const cin = g.inChannels;
  const cout = g.outChannels;
  const result = newFloat32(backend, backendName, [kh, kw, cout, cin]); // allocate before taking any view
  s.track(result.info);
  const out = result.values;
  const w = float32View(backend, backendName, filter);
  for (let k = 0; k < kh; k++) {
    const i = rowPlan.firstTap + (kh - 1 - k) * g.strideHeight;
    for (let l = 0; l < kw; l++) {
      const j = colPlan.firstTap + (kw - 1 - l) * g.strideWidth;
      const src = (i * g.filterWidth + j) * cin * cout;
      const dst = (k * kw + l) * cout * cin;
      for (let c = 0; c < cin; c++) {
        for (let o = 0; o < cout; o++) out[dst + o * cin + c] = w[src + c * cout + o];
      }
    }
  }
  return result.info;
}

/** The gradient for output phase (rowPhase, colPhase): [N, ⌈H/sh⌉, ⌈W/sw⌉, C], or null if no tap reaches it. */
function phaseGrad(
  s: KernelScope,
  backend: unknown,
  backendName: string,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  g: ConvGeometry,
  rowPlan: PhasePlan,
  colPlan: PhasePlan,
  rows: number,
  cols: number,
): tf.TensorInfo | null {
  if (rowPlan.taps === 0 || colPlan.taps === 0) return null;
  const sub = phaseFilter(s, backend, backendName, filter, g, rowPlan, colPlan);
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
  return s.run(
    "Slice",
    { x: conv },
    { begin: [0, Math.max(0, -rowPlan.padBefore), Math.max(0, -colPlan.padBefore), 0], size: [g.batch, rows, cols, g.inChannels] },
  );
}

/**
 * dx[n, r·sh + a, q·sw + b, c] = phases[a][b][n, r, q, c] for rows < H and columns < W (zero where
 * a phase is null). A JS loop over contiguous channel runs: the wasm backend's Concat/Pack along
 * an inner axis and its DepthToSpace are several times slower for this.
 */
function interleavePhases(backend: unknown, backendName: string, phases: (tf.TensorInfo | null)[][], g: ConvGeometry, rows: number, cols: number): tf.TensorInfo {
  const { batch, inHeight: height, inWidth: width, inChannels: channels, strideHeight: sh, strideWidth: sw } = g;
  const result = newFloat32(backend, backendName, [batch, height, width, channels]); // allocate before taking any view
  const out = result.values;
  out.fill(0); // phases no tap reaches stay zero (wasm memory is not zeroed)
  for (let a = 0; a < sh; a++) {
    for (let b = 0; b < sw; b++) {
      const phase = phases[a]![b];
      if (phase === null || phase === undefined) continue;
      const src = float32View(backend, backendName, phase);
      for (let n = 0; n < batch; n++) {
        for (let r = 0, h = a; r < rows && h < height; r++, h += sh) {
          let from = ((n * rows + r) * cols) * channels;
          for (let q = 0, w = b; q < cols && w < width; q++, w += sw) {
            const to = ((n * height + h) * width + w) * channels;
            for (let c = 0; c < channels; c++) out[to + c] = src[from + c];
            from += channels;
          }
        }
      }
    }
  }
  return result.info;
}

function convInputGrad(s: KernelScope, backend: unknown, backendName: string, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const rows = Math.ceil(g.inHeight / g.strideHeight);
  const cols = Math.ceil(g.inWidth / g.strideWidth);
  const phases: (tf.TensorInfo | null)[][] = [];
  for (let a = 0; a < g.strideHeight; a++) {
    const rowPlan = phasePlan(a, g.padTop, g.strideHeight, g.filterHeight, g.outHeight, rows);
    const row: (tf.TensorInfo | null)[] = [];
    for (let b = 0; b < g.strideWidth; b++) {
      const colPlan = phasePlan(b, g.padLeft, g.strideWidth, g.filterWidth, g.outWidth, cols);
      row.push(phaseGrad(s, backend, backendName, dy, filter, g, rowPlan, colPlan, rows, cols));
    }
    phases.push(row);
  }
  const single = phases[0]![0];
  if (g.strideHeight === 1 && g.strideWidth === 1 && single !== null && single !== undefined) return single; // one phase: already [N, H, W, C]
  return interleavePhases(backend, backendName, phases, g, rows, cols);
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
    return withKernelScope(backend, backendName, (s) => (isPointwise(g) ? pointwiseInputGrad(s, dy, filter, g) : convInputGrad(s, backend, backendName, dy, filter, g)));
  };
}
