/**
 * Every VJP of the ONNX gradient graph (src/nn/onnx-grad.ts), op by op, against the PyTorch
 * float64 references of test/fixtures/model/make_ops.py (ops.json): outputs and the gradients
 * of sum(out · r) computed by onnxruntime-node, to ≤ 1e-4 relative. Variants the model never
 * uses are derived from the same cases: matMul with every transpose combination (inputs
 * transposed in JS, their gradients transposed back), conv2d without a bias (the reference
 * output minus the bias), and `mean` (Σ out·r = count · mean(out·r)).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { GradValue, OnnxGradOps } from "../../src/nn/onnx-grad.js";
import type { Padding } from "../../src/nn/ops.js";
import { applyOpCase, decodeF32, type EncodedTensor, type OpCase, readFixture, relError, sameShape } from "../nn/fixture.js";

interface Plain {
  shape: number[];
  data: Float32Array;
}

const TOLERANCE = 1e-4;

function i32(e: EncodedTensor): Int32Array {
  const buf = Buffer.from(e.i32 as string, "base64");
  return new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Swaps the last two axes of a row-major tensor. */
function swapLast(t: Plain): Plain {
  const n = t.shape.length;
  const [r, c] = [t.shape[n - 2], t.shape[n - 1]];
  const out = new Float32Array(t.data.length);
  for (let b = 0; b < t.data.length / (r * c); b++)
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[b * r * c + j * r + i] = t.data[b * r * c + i * c + j];
  return { shape: [...t.shape.slice(0, -2), c, r], data: out };
}

/**
 * Builds sum(op(inputs) · r) with every float input as a differentiated parameter, runs it in
 * onnxruntime and returns the output and the gradients by input name.
 */
async function run(
  inputs: Record<string, Plain>,
  r: Plain,
  ids: EncodedTensor | undefined,
  op: (ops: OnnxGradOps, x: Record<string, GradValue>, ids: GradValue | null) => GradValue,
): Promise<{ out: Plain; grads: Record<string, Float32Array> }> {
  const ops = new OnnxGradOps(new Map(Object.entries(inputs).map(([n, t]) => [n, t.shape])));
  const x = Object.fromEntries(Object.keys(inputs).map((n) => [n, ops.param(n)]));
  const idValue = ids ? ops.input("ids", "int32", ids.shape) : null;
  const out = op(ops, x, idValue);
  const count = r.shape.reduce((a, b) => a * b, 1);
  const axes = r.shape.map((_, i) => i);
  const loss = ops.scale(ops.mean(ops.mul(out, ops.constant(r.data, r.shape)), axes, false), count);
  const grads = ops.backward(loss);
  ops.output(out, "out");
  for (const [n, g] of grads) ops.output(g, `grad:${n}`);
  const session = await ort.InferenceSession.create(ops.graph.toBytes("op-test", "test"), { graphOptimizationLevel: "all", intraOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  for (const n of session.inputNames) {
    feeds[n] = n === "ids" && ids ? new ort.Tensor("int32", i32(ids), ids.shape) : new ort.Tensor("float32", inputs[n].data, inputs[n].shape);
  }
  const res = await session.run(feeds);
  await session.release();
  const result: Record<string, Float32Array> = {};
  for (const n of Object.keys(inputs)) {
    assert.ok(res[`grad:${n}`], `no gradient for ${n}`);
    result[n] = res[`grad:${n}`].data as Float32Array;
  }
  return { out: { shape: [...res.out.dims], data: res.out.data as Float32Array }, grads: result };
}

function check(got: { out: Plain; grads: Record<string, Float32Array> }, out: Plain, grads: Record<string, Float32Array>): void {
  assert.ok(sameShape(got.out.shape, out.shape), `shape [${got.out.shape}] vs [${out.shape}]`);
  const outErr = relError(got.out.data, out.data);
  assert.ok(outErr <= TOLERANCE, `output rel error ${outErr}`);
  for (const [n, ref] of Object.entries(grads)) {
    const err = relError(got.grads[n], ref);
    assert.ok(err <= TOLERANCE, `d/d${n} rel error ${err}`);
  }
}

const plain = (e: EncodedTensor): Plain => ({ shape: e.shape, data: decodeF32(e) });

describe("ONNX gradient graph, op by op, vs PyTorch (ops.json)", () => {
  const fixture = readFixture("ops.json") as { cases: OpCase[] };
  for (const [index, c] of fixture.cases.entries()) {
    const label = `${c.op}${c.heads ? ` heads=${c.heads}` : ""}${c.stride ? ` stride=${c.stride} pad=[${c.pad}]` : ""}${c.groups ? ` groups=${c.groups}` : ""}${c.dim ? ` dim=${c.dim}` : ""} #${index}`;
    const inputs = Object.fromEntries(Object.entries(c.inputs).map(([n, e]) => [n, plain(e)]));
    const grads = Object.fromEntries(Object.entries(c.grads).map(([n, e]) => [n, decodeF32(e)]));
    const out = plain(c.out);
    const r = plain(c.r);
    it(label, async () => {
      const got = await run(inputs, r, c.ids, (ops, x, ids) => applyOpCase(ops, c, x, ids));
      check(got, out, grads);
    });

    if (c.op === "matMul") {
      // y = a·bᵀ, written with the other transpose flags on transposed inputs
      for (const [tA, tB] of [[false, false], [true, false], [true, true]] as const) {
        it(`${label}: transposeA=${tA} transposeB=${tB} (inputs transposed)`, async () => {
          const a = tA ? swapLast(inputs.a) : inputs.a;
          const b = tB ? inputs.b : swapLast(inputs.b);
          const got = await run({ a, b }, r, undefined, (ops, x) => ops.matMul(x.a, x.b, tA, tB));
          const ga = { shape: a.shape, data: got.grads.a };
          const gb = { shape: b.shape, data: got.grads.b };
          got.grads = { a: tA ? swapLast(ga).data : ga.data, b: tB ? gb.data : swapLast(gb).data };
          check(got, out, grads);
        });
      }
    }
    if (c.op === "conv2d") {
      it(`${label}: without bias`, async () => {
        const { bias, ...rest } = inputs;
        const co = bias.shape[0];
        const shifted = out.data.map((v, i) => v - bias.data[i % co]);
        const got = await run(rest, r, undefined, (ops, x) => ops.conv2d(x.x, x.weight, null, c.stride!, c.pad as Padding));
        check(got, { shape: out.shape, data: shifted }, { x: grads.x, weight: grads.weight });
      });
    }
  }

  it("mean over some axes, kept or dropped: gradient spreads g / count (hand-worked)", async () => {
    // y = mean over axis 1 of x [2, 3]; Σ y·r with r = [1, 2] → ∂/∂x[i][j] = r[i] / 3
    const x = { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) };
    for (const keep of [false, true]) {
      const r = { shape: keep ? [2, 1] : [2], data: Float32Array.of(1, 2) };
      const got = await run({ x }, r, undefined, (ops, v) => ops.mean(v.x, [1], keep));
      check(got, { shape: r.shape, data: Float32Array.of(2, 5) }, { x: Float32Array.of(1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3) });
    }
  });
});
