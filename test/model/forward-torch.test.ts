/**
 * The whole model (UNet + text / sketch encoders) against an independent PyTorch
 * re-implementation (test/fixtures/model/make_forward.py, float64): the parameter names and
 * shapes diffx declares, the forward output, and the gradients of sum(out · r) with respect
 * to every parameter and the input, on the cpu and wasm backends (wasm with diffx's conv
 * gradient kernels), to ≤ 1e-4 relative per tensor.
 *
 * "Relative" is max |a − b| over max |b| of the tensor, floored at 1e-3 of the largest
 * gradient of the model: the attention key biases have an exact gradient of 0 (softmax
 * ignores a constant added to one query's scores), which float32 reproduces only to ~1e-9.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { modelSchema } from "../../src/config/schema.js";
import { forward, modelParamSpecs } from "../../src/model/model.js";
import { TfjsOps } from "../../src/nn/tfjs-ops.js";
import { initBackend } from "../../src/engine/backend.js";
import { decodeF32, readForwardCases, relError, sameShape, toTensor, type ForwardCase } from "../nn/fixture.js";

const TOLERANCE = 1e-4;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

for (const backend of ["cpu", "wasm"] as const)
describe(`model forward and gradients vs PyTorch (forward.json), ${backend} backend`, () => {
  before(async () => {
    await initBackend(backend, { threads: 1 });
    assert.equal(tf.getBackend(), backend);
  });
  const fixture = { cases: readForwardCases() };
  for (const c of fixture.cases) {
    const cfg = modelSchema.parse(c.config);

    it(`${c.label}: declares exactly the parameters of the reference`, () => {
      const specs = modelParamSpecs(cfg, c.vocab);
      const declared = new Map(specs.map((s) => [s.name, s.shape]));
      const reference = Object.keys(c.weights);
      assert.deepEqual([...declared.keys()].sort(), [...reference].sort());
      for (const name of reference) assert.ok(sameShape(declared.get(name)!, c.weights[name].shape), `${name}: [${declared.get(name)}] vs [${c.weights[name].shape}]`);
    });

    it(`${c.label}: output and gradients match`, () => {
      const names = Object.keys(c.weights);
      const before = tf.memory().numTensors;
      const errors = tf.tidy(() => {
        const weights = names.map((n) => toTensor(c.weights[n]));
        const x = toTensor(c.inputs.x);
        const t = toTensor(c.inputs.t);
        const cond = toTensor(c.inputs.cond);
        const tokens = c.inputs.tokens ? toTensor(c.inputs.tokens) : undefined;
        const sketch = c.inputs.sketch ? toTensor(c.inputs.sketch) : undefined;
        const f = (...xs: tf.Tensor[]) => {
          const ops = new TfjsOps(new Map(names.map((n, i) => [n, xs[i]])));
          return forward(ops, cfg, { x: xs[names.length], t, cond, tokens, sketch });
        };
        const out = f(...weights, x);
        assert.ok(sameShape(out.shape, c.out.shape));
        const outErr = relError(out.dataSync(), decodeF32(c.out));
        const grads = tf.grads(f)([...weights, x], toTensor(c.r));
        const refs = names.map((n) => decodeF32(c.grads[n]));
        const floor = 1e-3 * Math.max(...refs.map((r) => maxAbs(r)));
        let worstGrad = 0;
        let worstName = "";
        names.forEach((n, i) => {
          const err = relError(grads[i].dataSync(), refs[i], floor);
          if (err > worstGrad) [worstGrad, worstName] = [err, n];
        });
        const xErr = relError(grads[names.length].dataSync(), decodeF32(c.grad_x));
        return { outErr, worstGrad, worstName, xErr };
      });
      assert.ok(errors.outErr <= TOLERANCE, `output rel error ${errors.outErr}`);
      assert.ok(errors.worstGrad <= TOLERANCE, `gradient of ${errors.worstName}: rel error ${errors.worstGrad}`);
      assert.ok(errors.xErr <= TOLERANCE, `gradient of x: rel error ${errors.xErr}`);
      if (process.env.DIFFX_TEST_VERBOSE) console.log(c.label, errors);
      assert.equal(tf.memory().numTensors, before, "tensors leaked");
    });
  }
});
