/**
 * Conv2DBackpropInput (the input gradient of a 2-D convolution) built from the backend's own
 * Conv2D. tfjs-backend-wasm 4.22 implements this kernel as a scalar single-threaded loop that
 * takes about 65 % of a training step (ENGINE-NOTES); Conv2D runs on XNNPACK.
 *
 * For the forward conv y[n,p,q,o] = Σ_{i,j,c} x[n, p·s + i − padTop, q·s + j − padLeft, c] · w[i,j,c,o]
 * the input gradient is
 *     dx[n,h,w,c] = Σ_{p,q,i,j,o : h = p·s + i − padTop, w = q·s + j − padLeft} dy[n,p,q,o] · w[i,j,c,o],
 * which is the "full" correlation of dy, dilated by s (s − 1 zeros between its pixels), with the
 * filter flipped in both spatial axes and its channel axes swapped (w'[i,j,o,c] = w[fh−1−i, fw−1−j, c, o]),
 * after padding the dilated dy by fh − 1 − padTop rows on top (and fw − 1 − padLeft columns on
 * the left), and on the far side by whatever makes the result exactly H × W.
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

/** dy with s − 1 zero rows after every row (and s − 1 zero columns after every column): [N, OH·sh, OW·sw, O]. */
function dilate(s: KernelScope, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  if (g.strideHeight === 1 && g.strideWidth === 1) return dy;
  const six = s.run("Reshape", { x: dy }, { shape: [g.batch, g.outHeight, 1, g.outWidth, 1, g.outChannels] });
  const padded = s.run(
    "PadV2",
    { x: six },
    {
      paddings: [
        [0, 0],
        [0, 0],
        [0, g.strideHeight - 1],
        [0, 0],
        [0, g.strideWidth - 1],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
  return s.run("Reshape", { x: padded }, { shape: [g.batch, g.outHeight * g.strideHeight, g.outWidth * g.strideWidth, g.outChannels] });
}

function convInputGrad(s: KernelScope, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const dilated = dilate(s, dy, g); // trailing zeros included: height OH·sh, width OW·sw
  const flipped = s.run("Reverse", { x: filter }, { dims: [0, 1] });
  const swapped = s.run("Transpose", { x: flipped }, { perm: [0, 1, 3, 2] }); // [fh, fw, O, C]
  // Result height = dilatedHeight + padTop' + padBottom' − fh + 1 must equal H.
  const padTop = g.filterHeight - 1 - g.padTop;
  const padLeft = g.filterWidth - 1 - g.padLeft;
  const padBottom = g.inHeight + g.filterHeight - 1 - dilated.shape[1] - padTop;
  const padRight = g.inWidth + g.filterWidth - 1 - dilated.shape[2] - padLeft;
  // Negative padding means "crop": convolve unpadded on that side and slice afterwards.
  const conv = s.run(
    "Conv2D",
    { x: dilated, filter: swapped },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [Math.max(0, padTop), Math.max(0, padBottom)],
        [Math.max(0, padLeft), Math.max(0, padRight)],
        [0, 0],
      ],
      dataFormat: "NHWC",
      dilations: [1, 1],
    },
  );
  if (conv.shape[1] === g.inHeight && conv.shape[2] === g.inWidth) return conv;
  return s.run(
    "Slice",
    { x: conv },
    { begin: [0, Math.max(0, -padTop), Math.max(0, -padLeft), 0], size: [g.batch, g.inHeight, g.inWidth, g.inChannels] },
  );
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
