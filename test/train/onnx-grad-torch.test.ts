/**
 * The ONNX gradient graph (src/nn/onnx-grad.ts) against the independent PyTorch model of
 * test/fixtures/model/make_forward.py (float64, forward.json): the forward output and the
 * gradients of sum(out · r) with respect to every parameter and the input x, computed by
 * onnxruntime-node, to ≤ 1e-4 relative per tensor (the measure of forward-torch.test.ts).
 * The three cases (text: gather, layerNorm, multi-head cross-attention; sketch: the fusion
 * path and strided convs; none: self-attention) exercise every VJP.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as ort from "onnxruntime-node";
import { modelSchema } from "../../src/config/schema.js";
import { forward, modelParamSpecs } from "../../src/model/model.js";
import { OnnxGradOps } from "../../src/nn/onnx-grad.js";
import { decodeF32, type EncodedTensor, readForwardCases, relError, type ForwardCase } from "../nn/fixture.js";

const TOLERANCE = 1e-4;
/** The input x is declared as a parameter under this name, so the graph also outputs its gradient. */
const X = "input.x";

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function feed(e: EncodedTensor): ort.Tensor {
  if (e.i32 !== undefined) {
    const buf = Buffer.from(e.i32, "base64");
    return new ort.Tensor("int32", new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)), e.shape);
  }
  return new ort.Tensor("float32", decodeF32(e), e.shape);
}

describe("ONNX gradient graph vs PyTorch (forward.json)", () => {
  const fixture = { cases: readForwardCases() };
  for (const c of fixture.cases) {
    it(`${c.label}: output, gradients of every parameter and of x match`, async () => {
      const cfg = modelSchema.parse(c.config);
      const specs = modelParamSpecs(cfg, c.vocab);
      const shapes = new Map(specs.map((s) => [s.name, s.shape]));
      shapes.set(X, c.inputs.x.shape);
      const ops = new OnnxGradOps(shapes);
      const input = (name: string) => {
        const e = c.inputs[name];
        return e ? ops.input(name, e.i32 !== undefined ? "int32" : "float32", e.shape) : undefined;
      };
      const out = forward(ops, cfg, { x: ops.param(X), t: input("t")!, cond: input("cond")!, tokens: input("tokens"), sketch: input("sketch") });
      const count = c.r.shape.reduce((a, b) => a * b, 1);
      const loss = ops.scale(ops.mean(ops.mul(out, ops.constant(decodeF32(c.r), c.r.shape)), [0, 1, 2, 3], false), count);
      const grads = ops.backward(loss);
      ops.output(out, "out");
      for (const [name, g] of grads) ops.output(g, `grad:${name}`);
      const session = await ort.InferenceSession.create(ops.graph.toBytes("grad-test", "test"), { graphOptimizationLevel: "all", intraOpNumThreads: 1 });
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of session.inputNames) feeds[name] = name === X ? feed(c.inputs.x) : c.weights[name] ? feed(c.weights[name]) : feed(c.inputs[name]);
      const res = await session.run(feeds);
      const outErr = relError(res.out.data as Float32Array, decodeF32(c.out));
      assert.ok(outErr <= TOLERANCE, `output rel error ${outErr}`);

      const names = Object.keys(c.weights);
      const refs = names.map((n) => decodeF32(c.grads[n]));
      const floor = 1e-3 * Math.max(...refs.map((r) => maxAbs(r)));
      let worst = 0;
      let worstName = "";
      names.forEach((n, i) => {
        const got = res[`grad:${n}`];
        assert.ok(got, `no gradient output for ${n}`);
        const err = relError(got.data as Float32Array, refs[i], floor);
        if (err > worst) [worst, worstName] = [err, n];
      });
      assert.ok(worst <= TOLERANCE, `gradient of ${worstName}: rel error ${worst}`);
      const xErr = relError(res[`grad:${X}`].data as Float32Array, decodeF32(c.grad_x));
      assert.ok(xErr <= TOLERANCE, `gradient of x: rel error ${xErr}`);
      if (process.env.DIFFX_TEST_VERBOSE) console.log(c.label, { outErr, worst, worstName, xErr });
      await session.release();
    });
  }
});
