/**
 * The tfjs interpreter of the op interface (src/nn/ops.ts): runs the network on tf.Tensors
 * for training and sampling. Conventions (NHWC, HWIO, [in, out] linear weights, reshape 0 =
 * keep, explicit padding) are the ones documented in ops.ts.
 *
 * Every method returns a new tensor and keeps none: call the network inside `tf.tidy` (or
 * `tf.variableGrads`, which tidies) so intermediates are disposed.
 */
import * as tf from "@tensorflow/tfjs";
import { RuntimeFailure } from "../errors.js";
import type { Ops, Padding } from "./ops.js";

export class TfjsOps implements Ops<tf.Tensor> {
  /** @param params the parameters by name (tf.Variables while training). */
  constructor(private readonly params: ReadonlyMap<string, tf.Tensor>) {}

  param(name: string): tf.Tensor {
    const p = this.params.get(name);
    if (!p) throw new RuntimeFailure(`model parameter "${name}" is not in the parameter map`);
    return p;
  }

  constant(data: Float32Array, shape: number[]): tf.Tensor {
    return tf.tensor(data, shape, "float32");
  }

  shape(x: tf.Tensor): number[] {
    return x.shape.slice();
  }

  add(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.add(a, b);
  }

  sub(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.sub(a, b);
  }

  mul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return tf.mul(a, b);
  }

  scale(x: tf.Tensor, c: number): tf.Tensor {
    return tf.mul(x, tf.scalar(c, "float32"));
  }

  matMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
    return tf.matMul(a, b, transposeA, transposeB);
  }

  linear(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null): tf.Tensor {
    if (weight.rank !== 2) throw new RuntimeFailure(`linear: weight must be [in, out], got shape [${weight.shape.join(", ")}]`);
    const [inDim, outDim] = weight.shape;
    if (x.shape[x.rank - 1] !== inDim) throw new RuntimeFailure(`linear: input has ${x.shape[x.rank - 1]} features, weight expects ${inDim}`);
    // Fold the leading axes: tf.matMul wants rank-2 (or equal-rank batched) operands.
    const flat = x.rank === 2 ? x : tf.reshape(x, [-1, inDim]);
    const y = bias ? affine(flat, weight, bias) : matMulNoTransposeGrad(flat, weight);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
  }

  conv2d(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | null, stride: number, pad: Padding): tf.Tensor {
    const [top, bottom, left, right] = pad;
    const y = tf.conv2d(rank4(x, "conv2d input"), rank4(weight, "conv2d weight"), stride, [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ]);
    return bias ? tf.add(y, bias) : y;
  }

  silu(x: tf.Tensor): tf.Tensor {
    return tf.mul(x, tf.sigmoid(x));
  }

  sin(x: tf.Tensor): tf.Tensor {
    return tf.sin(x);
  }

  cos(x: tf.Tensor): tf.Tensor {
    return tf.cos(x);
  }

  softmax(x: tf.Tensor): tf.Tensor {
    return tf.softmax(x, -1);
  }

  /**
   * Statistics from one `moments` over [H, W, C/groups] of the [N, H, W, groups, C/groups]
   * view, with the analytic gradient (2–3× faster than autodiff through `moments` on wasm):
   * with x̂ = (x − μ)·r, r = 1/√(σ² + eps) and g = dy·γ,
   * dx = r·(g − mean(g) − x̂·mean(g·x̂)) (means per sample and group), dγ = Σ dy·x̂, dβ = Σ dy.
   */
  groupNorm(x: tf.Tensor, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
    const [n, h, w, c] = rank4(x, "groupNorm input").shape;
    if (c % groups !== 0) throw new RuntimeFailure(`groupNorm: ${c} channels are not divisible into ${groups} groups`);
    const grouped = [n, h, w, groups, c / groups];
    const norm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [input, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const xg = tf.reshape(input, grouped);
      const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
      const rstd = tf.rsqrt(tf.add(variance, tf.scalar(eps, "float32")));
      const xhat = tf.reshape(tf.mul(tf.sub(xg, mean), rstd), [n, h, w, c]);
      save([xhat, rstd, g]);
      return {
        value: tf.add(tf.mul(xhat, g), b),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xhatS, rstdS, gS] = saved;
          const dxhat = tf.reshape(tf.mul(dy, gS), grouped);
          const xhatG = tf.reshape(xhatS, grouped);
          const meanD = tf.mean(dxhat, [1, 2, 4], true);
          const meanDx = tf.mean(tf.mul(dxhat, xhatG), [1, 2, 4], true);
          const dx = tf.mul(tf.sub(tf.sub(dxhat, meanD), tf.mul(xhatG, meanDx)), rstdS);
          return [tf.reshape(dx, [n, h, w, c]), tf.sum(tf.mul(dy, xhatS), [0, 1, 2]), tf.sum(dy, [0, 1, 2])];
        },
      };
    });
    return norm(x, gamma, beta);
  }

  layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
    const { mean, variance } = tf.moments(x, [x.rank - 1], true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, tf.scalar(eps, "float32"))));
    return tf.add(tf.mul(normed, gamma), beta);
  }

  concat(xs: tf.Tensor[], axis: number): tf.Tensor {
    return tf.concat(xs, axis);
  }

  reshape(x: tf.Tensor, shape: number[]): tf.Tensor {
    if (shape.filter((d) => d === -1).length > 1) throw new RuntimeFailure(`reshape: more than one -1 in [${shape.join(", ")}]`);
    const resolved = shape.map((d, i) => {
      if (d !== 0) return d;
      if (i >= x.rank) throw new RuntimeFailure(`reshape: 0 at index ${i} but the input has rank ${x.rank}`);
      return x.shape[i];
    });
    return tf.reshape(x, resolved);
  }

  transpose(x: tf.Tensor, perm: number[]): tf.Tensor {
    return tf.transpose(x, perm);
  }

  /**
   * Nearest-neighbour 2× as a broadcast: [N, H, 1, W, 1, C] · ones[1, 1, 2, 1, 2, 1]. Never
   * tf.image.resizeNearestNeighbor (the cpu backend's gradient kernel for it is wrong for
   * batch > 1, ENGINE-NOTES.md). On wasm this is ~15× faster than tf.tile forward + backward.
   */
  upsample2x(x: tf.Tensor): tf.Tensor {
    const [n, h, w, c] = rank4(x, "upsample2x input").shape;
    const spread = tf.mul(tf.reshape(x, [n, h, 1, w, 1, c]), tf.ones([1, 1, 2, 1, 2, 1], "float32"));
    return tf.reshape(spread, [n, 2 * h, 2 * w, c]);
  }

  mean(x: tf.Tensor, axes: number[], keepDims: boolean): tf.Tensor {
    return tf.mean(x, axes, keepDims);
  }

  /**
   * Embedding lookup as one-hot · table: its gradient is a matMul, which every backend has
   * (tf.gather's gradient needs UnsortedSegmentSum, which tfjs-backend-wasm lacks).
   */
  gather(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
    if (ids.dtype !== "int32") throw new RuntimeFailure(`gather: token ids must be int32, got ${ids.dtype}`);
    const [vocab, dim] = table.shape;
    const oneHot = tf.cast(tf.oneHot(tf.reshape(ids, [-1]), vocab), "float32");
    return tf.reshape(tf.matMul(oneHot, table), [...ids.shape, dim]);
  }
}

function rank4(x: tf.Tensor, what: string): tf.Tensor4D {
  if (x.rank !== 4) throw new RuntimeFailure(`${what} must be rank 4 (NHWC / HWIO), got shape [${x.shape.join(", ")}]`);
  return x as tf.Tensor4D;
}

/*
 * x · W (+ b) for rank-2 x with the gradient written with explicit transposes:
 * dx = dy · transpose(W), dW = transpose(x) · dy, db = Σ_rows dy. The stock matMul gradient
 * asks the kernel for transposed operands instead, which tfjs-backend-wasm runs on a slow
 * path (2–4× slower for the shapes of this network).
 */
const affine = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      return [tf.matMul(dy2, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy2), tf.sum(dy2, 0)];
    },
  };
});

const matMulNoTransposeGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      return [tf.matMul(dy2, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy2)];
    },
  };
});

/** A parameter on the host (structurally the same as src/model/params.ts's HostParam). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Host parameters → constant tensors for TfjsOps (sampling, export checks). Dispose with `disposeTensors`. */
export function paramTensors(params: ReadonlyMap<string, HostTensor>): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, p] of params) out.set(name, tf.tensor(p.data, p.shape, "float32"));
  return out;
}

/**
 * Host parameters → trainable tf.Variables for TfjsOps (training). Variables are unnamed:
 * tfjs variable names must be unique in the whole process. Dispose with `disposeTensors`.
 */
export function paramVariables(params: ReadonlyMap<string, HostTensor>): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, p] of params) {
    const t = tf.tensor(p.data, p.shape, "float32");
    out.set(name, tf.variable(t, true));
    t.dispose();
  }
  return out;
}

/** Tensors → host parameters (copies). */
export function hostParams(tensors: ReadonlyMap<string, tf.Tensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    const data = t.dataSync();
    if (!(data instanceof Float32Array)) throw new RuntimeFailure(`parameter "${name}" is ${t.dtype}, expected float32`);
    out.set(name, { shape: t.shape.slice(), data: Float32Array.from(data) });
  }
  return out;
}

export function disposeTensors(tensors: ReadonlyMap<string, tf.Tensor>): void {
  for (const t of tensors.values()) t.dispose();
}
