/**
 * Conv2DBackpropFilter (the weight gradient of a 2-D convolution) built from the backend's own
 * Conv2D, Transpose, Slice and BatchMatMul kernels. tfjs-backend-wasm 4.22 has no such kernel
 * (ENGINE-NOTES), so without this nothing with a conv layer can be trained on wasm.
 *
 * For the forward conv y[n,p,q,o] = Σ_{i,j,c} x[n, p·s + i − padTop, q·s + j − padLeft, c] · w[i,j,c,o]
 * the weight gradient is
 *     dw[i,j,c,o] = Σ_{n,p,q} x[n, p·s + i − padTop, q·s + j − padLeft, c] · dy[n,p,q,o].
 * Read x as a batch of C one-channel-per-sample images xᵀ[c, h, w, n] and dy as a filter
 * dyᵀ[p, q, n, o] (height OH, width OW, N input channels, O output channels); then dw is the
 * stride-1 convolution of xᵀ with dyᵀ dilated by s, with padTop/padLeft zeros in front:
 *     conv(xᵀ, dyᵀ)[c, i, j, o] = Σ_{p,q,n} xᵀ[c, i + p·s − padTop, j + q·s − padLeft, n] · dyᵀ[p, q, n, o].
 * So: transpose, one Conv2D with dilation = stride, crop to the filter size, transpose back.
 * A 1×1, stride-1, unpadded conv is a plain matrix product over all pixels: dw = xᵀ · dy (or
 * (dyᵀ · x)ᵀ when dy has fewer channels, so the smaller operand is the one transposed).
 */
import * as tf from "@tensorflow/tfjs";
import { convGeometry, isPointwise, type ConvGeometry } from "./conv-geometry.js";
import { withKernelScope, type KernelScope } from "./kernel-scope.js";

function pointwiseFilterGrad(s: KernelScope, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  // The contraction runs over pixels, the leading axis of both operands, and the backends' fast
  // matrix product wants it as the inner axis of the first: transpose the smaller operand.
  const pixels = g.batch * g.outHeight * g.outWidth;
  const x2 = s.run("Reshape", { x }, { shape: [pixels, g.inChannels] });
  const dy2 = s.run("Reshape", { x: dy }, { shape: [pixels, g.outChannels] });
  if (g.inChannels <= g.outChannels) {
    const xt = s.run("Reshape", { x: s.run("Transpose", { x: x2 }, { perm: [1, 0] }) }, { shape: [1, g.inChannels, pixels] });
    const dw = s.run("BatchMatMul", { a: xt, b: s.run("Reshape", { x: dy2 }, { shape: [1, pixels, g.outChannels] }) }, { transposeA: false, transposeB: false });
    return s.run("Reshape", { x: dw }, { shape: [1, 1, g.inChannels, g.outChannels] });
  }
  const dyt = s.run("Reshape", { x: s.run("Transpose", { x: dy2 }, { perm: [1, 0] }) }, { shape: [1, g.outChannels, pixels] });
  const dwt = s.run("BatchMatMul", { a: dyt, b: s.run("Reshape", { x: x2 }, { shape: [1, pixels, g.inChannels] }) }, { transposeA: false, transposeB: false });
  const dw = s.run("Transpose", { x: s.run("Reshape", { x: dwt }, { shape: [g.outChannels, g.inChannels] }) }, { perm: [1, 0] });
  return s.run("Reshape", { x: dw }, { shape: [1, 1, g.inChannels, g.outChannels] });
}

function convFilterGrad(s: KernelScope, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const xt = s.run("Transpose", { x }, { perm: [3, 1, 2, 0] }); // [C, H, W, N]
  const dyt = s.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, N, O]
  // Rows/columns of the padded input the forward conv reads; pad the far side up to that, never below 0.
  const needHeight = g.filterHeight + (g.outHeight - 1) * g.strideHeight;
  const needWidth = g.filterWidth + (g.outWidth - 1) * g.strideWidth;
  const padBottom = Math.max(0, needHeight - g.inHeight - g.padTop);
  const padRight = Math.max(0, needWidth - g.inWidth - g.padLeft);
  const conv = s.run(
    "Conv2D",
    { x: xt, filter: dyt },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [g.padTop, padBottom],
        [g.padLeft, padRight],
        [0, 0],
      ],
      dataFormat: "NHWC",
      dilations: [g.strideHeight, g.strideWidth],
    },
  ); // [C, ≥fh, ≥fw, O]
  const cropped =
    conv.shape[1] === g.filterHeight && conv.shape[2] === g.filterWidth
      ? conv
      : s.run("Slice", { x: conv }, { begin: [0, 0, 0, 0], size: [g.inChannels, g.filterHeight, g.filterWidth, g.outChannels] });
  return s.run("Transpose", { x: cropped }, { perm: [1, 2, 0, 3] }); // [fh, fw, C, O]
}

/** The kernel function for `backendName`, composed from that backend's registered kernels. */
export function conv2dBackpropFilterKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs;
    if (x === undefined || dy === undefined) throw new Error("Conv2DBackpropFilter needs inputs x and dy");
    const g = convGeometry(x.shape, attrs?.["filterShape"], attrs ?? {});
    if (dy.shape[1] !== g.outHeight || dy.shape[2] !== g.outWidth || dy.shape[3] !== g.outChannels) {
      throw new Error(`Conv2DBackpropFilter: dy shape ${JSON.stringify(dy.shape)} does not match the forward output [${g.batch},${g.outHeight},${g.outWidth},${g.outChannels}]`);
    }
    return withKernelScope(backend, backendName, (s) => (isPointwise(g) ? pointwiseFilterGrad(s, x, dy, g) : convFilterGrad(s, x, dy, g)));
  };
}

