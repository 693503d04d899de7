/**
 * Every op of the interface, recorded by OnnxOps and run by onnxruntime-node, against the same
 * op computed directly with @tensorflow/tfjs on the cpu backend (written here, independent of
 * src/nn/tfjs-ops.ts). Each graph has a symbolic batch and runs at batch 1 and 5. Cases marked
 * `nchw` feed the op a value that exists only in the NCHW layout (the output of an identity
 * 1×1 conv), so both layout paths of OnnxOps are exercised.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import type { Ops } from "../../src/nn/ops.js";
import type { ParamTensor } from "../../src/nn/onnx-ops.js";
import type { ExportInput } from "../../src/export/onnx-export.js";
import type { OnnxFeed } from "../../src/export/onnx-runner.js";
import { randn, relError, size, traceAndRun, useTfCpu } from "./helpers.js";

const TOL = 1e-5;
const BATCHES = [1, 5];

interface CaseInput {
  name: string;
  /** Shape without the batch (the batch is always axis 0). */
  shape: number[];
  dtype?: "float32" | "int32" | "int64";
  /** Route through an identity 1×1 conv so the op sees an NCHW-only value (rank 4 only). */
  nchw?: boolean;
  /** For integer inputs: ids are drawn from [0, vocab). */
  vocab?: number;
}

interface OpCase {
  name: string;
  inputs: CaseInput[];
  /** Parameter shapes (random data). */
  params?: Record<string, number[]>;
  /** The op(s) under test, through the interface. */
  run: <T>(ops: Ops<T>, v: Record<string, T>) => T;
  /** The same computed directly with tfjs; `v` holds inputs and params by name. */
  ref: (v: Record<string, tf.Tensor>) => tf.Tensor;
  tol?: number;
}

const pads = (t: number, b: number, l: number, r: number): [[number, number], [number, number], [number, number], [number, number]] => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];

function tfGroupNorm(x: tf.Tensor, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const g = x.reshape([n, h, w, groups, c / groups]);
  const { mean, variance } = tf.moments(g, [1, 2, 4], true);
  return g.sub(mean).div(variance.add(eps).sqrt()).reshape([n, h, w, c]).mul(gamma).add(beta);
}

function tfLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, [x.rank - 1], true);
  return x.sub(mean).div(variance.add(eps).sqrt()).mul(gamma).add(beta);
}

const cases: OpCase[] = [
  {
    name: "add: NHWC + per-channel bias",
    inputs: [{ name: "x", shape: [4, 5, 6] }],
    params: { b: [6] },
    run: (ops, v) => ops.add(v.x!, ops.param("b")),
    ref: (v) => tf.add(v.x!, v.b!),
  },
  {
    name: "add: NCHW value + per-channel bias + [N,1,1,C] embedding",
    inputs: [
      { name: "x", shape: [4, 5, 6], nchw: true },
      { name: "e", shape: [1, 1, 6] },
    ],
    params: { b: [6] },
    run: (ops, v) => ops.add(ops.add(v.x!, ops.param("b")), v.e!),
    ref: (v) => v.x!.add(v.b!).add(v.e!),
  },
  {
    name: "sub: NCHW minus NHWC (mixed layouts)",
    inputs: [
      { name: "x", shape: [3, 4, 5], nchw: true },
      { name: "y", shape: [3, 4, 5] },
    ],
    run: (ops, v) => ops.sub(v.x!, v.y!),
    ref: (v) => tf.sub(v.x!, v.y!),
  },
  {
    name: "sub: rank 2 operand broadcast over W, C of an NCHW value",
    inputs: [{ name: "x", shape: [3, 4, 5], nchw: true }],
    params: { m: [4, 5] },
    run: (ops, v) => ops.sub(v.x!, ops.param("m")),
    ref: (v) => tf.sub(v.x!, v.m!),
  },
  {
    name: "mul: rank 3 tokens times a [D] vector, and scale",
    inputs: [{ name: "x", shape: [7, 8] }],
    params: { g: [8] },
    run: (ops, v) => ops.scale(ops.mul(v.x!, ops.param("g")), -0.37),
    ref: (v) => v.x!.mul(v.g!).mul(-0.37),
  },
  {
    name: "mul + scale on NCHW values",
    inputs: [
      { name: "x", shape: [4, 4, 3], nchw: true },
      { name: "y", shape: [4, 4, 3], nchw: true },
    ],
    run: (ops, v) => ops.scale(ops.mul(v.x!, v.y!), 2.5),
    ref: (v) => v.x!.mul(v.y!).mul(2.5),
  },
  {
    name: "matMul: batched [N,T,D]·[N,D,E]",
    inputs: [
      { name: "a", shape: [3, 4] },
      { name: "b", shape: [4, 5] },
    ],
    run: (ops, v) => ops.matMul(v.a!, v.b!),
    ref: (v) => tf.matMul(v.a!, v.b!),
  },
  {
    name: "matMul: transposeB (attention scores q·kᵀ)",
    inputs: [
      { name: "q", shape: [6, 4] },
      { name: "k", shape: [3, 4] },
    ],
    run: (ops, v) => ops.matMul(v.q!, v.k!, false, true),
    ref: (v) => tf.matMul(v.q!, v.k!, false, true),
  },
  {
    name: "matMul: transposeA and transposeB",
    inputs: [
      { name: "a", shape: [4, 6] },
      { name: "b", shape: [3, 4] },
    ],
    run: (ops, v) => ops.matMul(v.a!, v.b!, true, true),
    ref: (v) => tf.matMul(v.a!, v.b!, true, true),
  },
  {
    name: "matMul: rank 4 (multi-head) with transposeA",
    inputs: [
      { name: "a", shape: [2, 5, 3] },
      { name: "b", shape: [2, 5, 4] },
    ],
    run: (ops, v) => ops.matMul(v.a!, v.b!, true, false),
    ref: (v) => tf.matMul(v.a!, v.b!, true, false),
  },
  {
    name: "linear: [N,D] with bias",
    inputs: [{ name: "x", shape: [6] }],
    params: { w: [6, 9], b: [9] },
    run: (ops, v) => ops.linear(v.x!, ops.param("w"), ops.param("b")),
    ref: (v) => tf.matMul(v.x!, v.w!).add(v.b!),
  },
  {
    name: "linear: [N,T,D] without bias",
    inputs: [{ name: "x", shape: [5, 6] }],
    params: { w: [6, 4] },
    run: (ops, v) => ops.linear(v.x!, ops.param("w"), null),
    ref: (v) => {
      const [n, t] = v.x!.shape as [number, number, number];
      return tf.matMul(v.x!.reshape([n * t, 6]), v.w!).reshape([n, t, 4]);
    },
  },
  {
    name: "linear: on an NCHW value (1×1 projection over C)",
    inputs: [{ name: "x", shape: [3, 4, 6], nchw: true }],
    params: { w: [6, 2], b: [2] },
    run: (ops, v) => ops.linear(v.x!, ops.param("w"), ops.param("b")),
    ref: (v) => {
      const [n] = v.x!.shape as [number];
      return tf.matMul(v.x!.reshape([n * 12, 6]), v.w!).add(v.b!).reshape([n, 3, 4, 2]);
    },
  },
  {
    name: "conv2d: 3×3, stride 1, pad 1, bias",
    inputs: [{ name: "x", shape: [6, 7, 3] }],
    params: { w: [3, 3, 3, 5], b: [5] },
    run: (ops, v) => ops.conv2d(v.x!, ops.param("w"), ops.param("b"), 1, [1, 1, 1, 1]),
    ref: (v) => tf.conv2d(v.x as tf.Tensor4D, v.w as tf.Tensor4D, 1, pads(1, 1, 1, 1)).add(v.b!),
  },
  {
    name: "conv2d: 3×3, stride 2, pad (1,1,1,1), NCHW input",
    inputs: [{ name: "x", shape: [8, 8, 4], nchw: true }],
    params: { w: [3, 3, 4, 6], b: [6] },
    run: (ops, v) => ops.conv2d(v.x!, ops.param("w"), ops.param("b"), 2, [1, 1, 1, 1]),
    ref: (v) => tf.conv2d(v.x as tf.Tensor4D, v.w as tf.Tensor4D, 2, pads(1, 1, 1, 1)).add(v.b!),
  },
  {
    name: "conv2d: 3×3, stride 2, asymmetric pad (0,1,0,1), no bias, odd size",
    inputs: [{ name: "x", shape: [9, 7, 2] }],
    params: { w: [3, 3, 2, 3] },
    run: (ops, v) => ops.conv2d(v.x!, ops.param("w"), null, 2, [0, 1, 0, 1]),
    ref: (v) => tf.conv2d(v.x as tf.Tensor4D, v.w as tf.Tensor4D, 2, pads(0, 1, 0, 1)),
  },
  {
    name: "conv2d: 1×1 then 2×3 kernel with mixed pads",
    inputs: [{ name: "x", shape: [5, 6, 4] }],
    params: { w1: [1, 1, 4, 3], w2: [2, 3, 3, 2], b2: [2] },
    run: (ops, v) => ops.conv2d(ops.conv2d(v.x!, ops.param("w1"), null, 1, [0, 0, 0, 0]), ops.param("w2"), ops.param("b2"), 1, [1, 0, 2, 1]),
    ref: (v) => tf.conv2d(tf.conv2d(v.x as tf.Tensor4D, v.w1 as tf.Tensor4D, 1, pads(0, 0, 0, 0)), v.w2 as tf.Tensor4D, 1, pads(1, 0, 2, 1)).add(v.b2!),
  },
  {
    name: "conv2d: weight computed in the graph (param × constant)",
    inputs: [{ name: "x", shape: [4, 4, 2] }],
    params: { w: [3, 3, 2, 2] },
    run: (ops, v) => ops.conv2d(v.x!, ops.scale(ops.param("w"), 0.5), null, 1, [1, 1, 1, 1]),
    ref: (v) => tf.conv2d(v.x as tf.Tensor4D, v.w!.mul(0.5) as tf.Tensor4D, 1, pads(1, 1, 1, 1)),
  },
  {
    name: "conv2d: a parameter used both as a conv weight and as a plain tensor",
    inputs: [{ name: "x", shape: [3, 3, 3] }],
    params: { w: [1, 1, 3, 3] },
    run: (ops, v) => ops.add(ops.conv2d(v.x!, ops.param("w"), null, 1, [0, 0, 0, 0]), ops.reshape(ops.param("w"), [1, 1, 3, 3])),
    ref: (v) => tf.conv2d(v.x as tf.Tensor4D, v.w as tf.Tensor4D, 1, pads(0, 0, 0, 0)).add(v.w!.reshape([1, 3, 3])),
  },
  {
    name: "silu (NHWC and NCHW)",
    inputs: [
      { name: "x", shape: [3, 3, 4] },
      { name: "y", shape: [3, 3, 4], nchw: true },
    ],
    run: (ops, v) => ops.add(ops.silu(v.x!), ops.silu(v.y!)),
    ref: (v) => v.x!.mul(tf.sigmoid(v.x!)).add(v.y!.mul(tf.sigmoid(v.y!))),
  },
  {
    name: "sin and cos",
    inputs: [{ name: "x", shape: [10] }],
    run: (ops, v) => ops.concat([ops.sin(ops.scale(v.x!, 3)), ops.cos(ops.scale(v.x!, 3))], 1),
    ref: (v) => tf.concat([tf.sin(v.x!.mul(3)), tf.cos(v.x!.mul(3))], 1),
  },
  {
    name: "softmax over the last axis",
    inputs: [{ name: "x", shape: [4, 7] }],
    run: (ops, v) => ops.softmax(ops.scale(v.x!, 4)),
    ref: (v) => tf.softmax(v.x!.mul(4), -1),
  },
  {
    name: "softmax of an NCHW value (over C)",
    inputs: [{ name: "x", shape: [2, 3, 5], nchw: true }],
    run: (ops, v) => ops.softmax(v.x!),
    ref: (v) => tf.softmax(v.x!, -1),
  },
  {
    name: "groupNorm: 4 groups, NHWC input",
    inputs: [{ name: "x", shape: [5, 6, 8] }],
    params: { g: [8], b: [8] },
    run: (ops, v) => ops.groupNorm(v.x!, 4, ops.param("g"), ops.param("b"), 1e-5),
    ref: (v) => tfGroupNorm(v.x!, 4, v.g!, v.b!, 1e-5),
  },
  {
    name: "groupNorm: 2 groups, NCHW input, large eps, then silu",
    inputs: [{ name: "x", shape: [4, 4, 6], nchw: true }],
    params: { g: [6], b: [6] },
    run: (ops, v) => ops.silu(ops.groupNorm(v.x!, 2, ops.param("g"), ops.param("b"), 0.1)),
    ref: (v) => {
      const y = tfGroupNorm(v.x!, 2, v.g!, v.b!, 0.1);
      return y.mul(tf.sigmoid(y));
    },
  },
  {
    name: "groupNorm: one channel per group",
    inputs: [{ name: "x", shape: [3, 2, 4] }],
    params: { g: [4], b: [4] },
    run: (ops, v) => ops.groupNorm(v.x!, 4, ops.param("g"), ops.param("b"), 1e-6),
    ref: (v) => tfGroupNorm(v.x!, 4, v.g!, v.b!, 1e-6),
  },
  {
    name: "layerNorm over the last axis",
    inputs: [{ name: "x", shape: [6, 10] }],
    params: { g: [10], b: [10] },
    run: (ops, v) => ops.layerNorm(v.x!, ops.param("g"), ops.param("b"), 1e-5),
    ref: (v) => tfLayerNorm(v.x!, v.g!, v.b!, 1e-5),
  },
  {
    name: "concat on channels, mixed NCHW and NHWC",
    inputs: [
      { name: "x", shape: [3, 4, 2], nchw: true },
      { name: "y", shape: [3, 4, 5] },
    ],
    run: (ops, v) => ops.concat([v.x!, v.y!], 3),
    ref: (v) => tf.concat([v.x!, v.y!], 3),
  },
  {
    name: "concat on H and on W (axis 1, axis -2), NCHW inputs",
    inputs: [
      { name: "x", shape: [2, 3, 4], nchw: true },
      { name: "y", shape: [2, 3, 4], nchw: true },
    ],
    run: (ops, v) => ops.concat([ops.concat([v.x!, v.y!], 1), ops.concat([v.y!, v.x!], 1)], -2),
    ref: (v) => tf.concat([tf.concat([v.x!, v.y!], 1), tf.concat([v.y!, v.x!], 1)], 2),
  },
  {
    name: "concat of rank 3 along tokens (axis 1)",
    inputs: [
      { name: "x", shape: [2, 4] },
      { name: "y", shape: [3, 4] },
    ],
    run: (ops, v) => ops.concat([v.x!, v.y!, v.x!], 1),
    ref: (v) => tf.concat([v.x!, v.y!, v.x!], 1),
  },
  {
    name: "reshape with 0 and -1 (NHWC → tokens and back)",
    inputs: [{ name: "x", shape: [3, 4, 5], nchw: true }],
    run: (ops, v) => {
      const tokens = ops.reshape(v.x!, [0, -1, 5]);
      const swapped = ops.transpose(tokens, [0, 2, 1]);
      return ops.reshape(ops.transpose(swapped, [0, 2, 1]), [0, 3, 4, 5]);
    },
    ref: (v) => v.x!,
  },
  {
    name: "reshape folding the batch into rows and back",
    inputs: [{ name: "x", shape: [3, 4] }],
    params: { w: [4, 2] },
    run: (ops, v) => ops.reshape(ops.matMul(ops.reshape(v.x!, [-1, 4]), ops.param("w")), [-1, 3, 2]),
    ref: (v) => {
      const [n] = v.x!.shape as [number];
      return tf.matMul(v.x!.reshape([n * 3, 4]), v.w!).reshape([n, 3, 2]);
    },
  },
  {
    name: "transpose: arbitrary perm of an NCHW value (read from the NCHW copy)",
    inputs: [{ name: "x", shape: [2, 3, 4], nchw: true }],
    run: (ops, v) => ops.add(ops.transpose(v.x!, [0, 3, 1, 2]), ops.transpose(ops.transpose(v.x!, [2, 0, 3, 1]), [1, 2, 3, 0])),
    ref: (v) => tf.transpose(v.x!, [0, 3, 1, 2]).add(tf.transpose(tf.transpose(v.x!, [2, 0, 3, 1]), [1, 2, 3, 0])),
  },
  {
    name: "upsample2x (nearest)",
    inputs: [{ name: "x", shape: [3, 4, 2] }],
    run: (ops, v) => ops.upsample2x(v.x!),
    ref: (v) => {
      const [, h, w] = v.x!.shape as [number, number, number, number];
      return tf.image.resizeNearestNeighbor(v.x as tf.Tensor4D, [2 * h, 2 * w], false, false);
    },
  },
  {
    name: "upsample2x of an NCHW value, then conv",
    inputs: [{ name: "x", shape: [2, 3, 3], nchw: true }],
    params: { w: [3, 3, 3, 2] },
    run: (ops, v) => ops.conv2d(ops.upsample2x(v.x!), ops.param("w"), null, 1, [1, 1, 1, 1]),
    ref: (v) => tf.conv2d(tf.image.resizeNearestNeighbor(v.x as tf.Tensor4D, [4, 6], false, false), v.w as tf.Tensor4D, 1, pads(1, 1, 1, 1)),
  },
  {
    name: "mean over H, W kept and dropped",
    inputs: [{ name: "x", shape: [3, 4, 5], nchw: true }],
    run: (ops, v) => ops.add(ops.reshape(ops.mean(v.x!, [1, 2], false), [0, 1, 1, 5]), ops.mean(v.x!, [1, -2], true)),
    ref: (v) => tf.mean(v.x!, [1, 2], true).mul(2),
  },
  {
    name: "mean over the last axis of tokens",
    inputs: [{ name: "x", shape: [6, 7] }],
    run: (ops, v) => ops.mean(v.x!, [-1], false),
    ref: (v) => tf.mean(v.x!, [2], false),
  },
  {
    name: "gather token embeddings (int32 ids)",
    inputs: [{ name: "ids", shape: [6], dtype: "int32", vocab: 11 }],
    params: { table: [11, 4] },
    run: (ops, v) => ops.gather(ops.param("table"), v.ids!),
    ref: (v) => tf.gather(v.table!, v.ids!),
  },
  {
    name: "gather token embeddings (int64 ids) + layerNorm",
    inputs: [{ name: "ids", shape: [5], dtype: "int64", vocab: 7 }],
    params: { table: [7, 6], g: [6], b: [6] },
    run: (ops, v) => ops.layerNorm(ops.gather(ops.param("table"), v.ids!), ops.param("g"), ops.param("b"), 1e-5),
    ref: (v) => tfLayerNorm(tf.gather(v.table!, v.ids!), v.g!, v.b!, 1e-5),
  },
  {
    name: "constant",
    inputs: [{ name: "x", shape: [2, 3] }],
    run: (ops, v) => ops.add(v.x!, ops.constant(new Float32Array([1, -2, 3, 0.5, 0.25, -8]), [2, 3])),
    ref: (v) => v.x!.add(tf.tensor([1, -2, 3, 0.5, 0.25, -8], [2, 3])),
  },
];

function inputData(inp: CaseInput, batch: number, caseName: string): Float32Array | Int32Array | BigInt64Array {
  const n = batch * size(inp.shape);
  const seed = `${caseName}/${inp.name}/${batch}`;
  if (inp.dtype === "int32" || inp.dtype === "int64") {
    const vocab = inp.vocab ?? 2;
    const u = randn(n, seed);
    const ids = Array.from(u, (z) => Math.min(vocab - 1, Math.floor(vocab * (0.5 + 0.5 * Math.tanh(z)))));
    return inp.dtype === "int32" ? Int32Array.from(ids) : BigInt64Array.from(ids, (i) => BigInt(i));
  }
  return randn(n, seed);
}

for (const c of cases) {
  test(`OnnxOps ${c.name} matches tfjs (batch ${BATCHES.join(" and ")})`, async (t) => {
    await useTfCpu();
    const params = new Map<string, ParamTensor>();
    for (const [name, shape] of Object.entries(c.params ?? {})) params.set(name, { shape, data: randn(size(shape), `${c.name}/${name}`, 0.5) });
    // Identity 1×1 convs that move an input to the NCHW-only layout.
    for (const inp of c.inputs) {
      if (!inp.nchw) continue;
      const ch = inp.shape[inp.shape.length - 1] as number;
      const eye = new Float32Array(ch * ch);
      for (let i = 0; i < ch; i++) eye[i * ch + i] = 1;
      params.set(`__eye${ch}`, { shape: [1, 1, ch, ch], data: eye });
    }
    const exportInputs: ExportInput[] = c.inputs.map((i) => ({ name: i.name, dtype: i.dtype ?? "float32", shape: ["batch", ...i.shape] }));
    const forward = <T>(ops: Ops<T>, v: Record<string, T>): T => {
      const routed: Record<string, T> = { ...v };
      for (const inp of c.inputs) {
        if (inp.nchw) routed[inp.name] = ops.conv2d(v[inp.name] as T, ops.param(`__eye${inp.shape[inp.shape.length - 1]}`), null, 1, [0, 0, 0, 0]);
      }
      return c.run(ops, routed);
    };
    const feedSets: Record<string, OnnxFeed>[] = BATCHES.map((b) => Object.fromEntries(c.inputs.map((i) => [i.name, { data: inputData(i, b, c.name), shape: [b, ...i.shape] }])));
    const outs = await traceAndRun(forward, params, exportInputs, feedSets);
    for (const [k, b] of BATCHES.entries()) {
      const feeds = feedSets[k]!;
      const expected = tf.tidy(() => {
        const v: Record<string, tf.Tensor> = {};
        for (const [name, f] of Object.entries(feeds)) v[name] = f.data instanceof BigInt64Array ? tf.tensor(Int32Array.from(f.data, Number), f.shape, "int32") : tf.tensor(f.data, f.shape);
        for (const [name, p] of params) v[name] = tf.tensor(p.data, p.shape);
        return c.ref(v);
      });
      const want = { shape: expected.shape, data: expected.dataSync() as Float32Array };
      expected.dispose();
      const got = outs[k]!;
      assert.deepEqual(got.shape, want.shape, `batch ${b}: output shape`);
      const err = relError(got.data, want.data);
      t.diagnostic(`batch ${b}: relative error ${err.toExponential(2)}`);
      assert.ok(err <= (c.tol ?? TOL), `batch ${b}: relative error ${err.toExponential(2)} > ${c.tol ?? TOL}`);
    }
  });
}
