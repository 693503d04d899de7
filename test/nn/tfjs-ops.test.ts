/**
 * The tfjs interpreter's ops (and the attention / timestep-embedding layers) against
 * PyTorch float64 references recorded by test/fixtures/model/make_ops.py: outputs and
 * the gradients of sum(out · r), on the cpu backend, to ≤ 1e-4 relative.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { disposeTensors, hostParams, paramTensors, paramVariables, TfjsOps } from "../../src/nn/tfjs-ops.js";
import { applyOpCase, decodeF32, type OpCase, readFixture, relError, sameShape, toTensor } from "./fixture.js";

const TOLERANCE = 1e-4;
const ops = new TfjsOps(new Map());

describe("tfjs ops vs PyTorch (ops.json)", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });
  const fixture = readFixture("ops.json") as { cases: OpCase[] };
  for (const [index, c] of fixture.cases.entries()) {
    const label = `${c.op}${c.heads ? ` heads=${c.heads}` : ""}${c.stride ? ` stride=${c.stride} pad=[${c.pad}]` : ""}${c.groups ? ` groups=${c.groups}` : ""}${c.dim ? ` dim=${c.dim}` : ""} #${index}`;
    it(label, () => {
      const names = Object.keys(c.inputs);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const inputs = names.map((n) => toTensor(c.inputs[n]));
        const ids = c.ids ? toTensor(c.ids) : null;
        const f = (...xs: tf.Tensor[]) => applyOpCase(ops, c, Object.fromEntries(names.map((n, i) => [n, xs[i]])), ids);
        const out = f(...inputs);
        assert.ok(sameShape(out.shape, c.out.shape), `shape [${out.shape}] vs [${c.out.shape}]`);
        const outErr = relError(out.dataSync(), decodeF32(c.out));
        assert.ok(outErr <= TOLERANCE, `output rel error ${outErr}`);
        const grads = tf.grads(f)(inputs, toTensor(c.r));
        names.forEach((n, i) => {
          const err = relError(grads[i].dataSync(), decodeF32(c.grads[n]));
          assert.ok(err <= TOLERANCE, `d/d${n} rel error ${err}`);
        });
      });
      assert.equal(tf.memory().numTensors, before, "tensors leaked");
    });
  }
});

describe("tfjs ops: interface conventions", () => {
  it("reshape keeps the input size where the target says 0 and infers one -1", () => {
    tf.tidy(() => {
      const x = tf.zeros([3, 4, 5]);
      assert.deepEqual(ops.reshape(x, [0, -1]).shape, [3, 20]);
      assert.deepEqual(ops.reshape(x, [0, 2, 2, 5]).shape, [3, 2, 2, 5]);
      assert.deepEqual(ops.reshape(tf.zeros([7]), [0, 1, 1]).shape, [7, 1, 1]);
      assert.throws(() => ops.reshape(x, [-1, -1]), /more than one -1/);
    });
  });
  it("upsample2x repeats every pixel into a 2×2 block (hand-worked 1×2×2×1 case)", () => {
    const y = tf.tidy(() => ops.upsample2x(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1])));
    assert.deepEqual(Array.from(y.dataSync()), [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    y.dispose();
  });
  it("param() names a missing parameter", () => {
    assert.throws(() => ops.param("down.0.res.0.conv1.weight"), /"down\.0\.res\.0\.conv1\.weight" is not in the parameter map/);
  });
  it("moves parameters host → tensors / variables → host unchanged, without leaking", () => {
    const before = tf.memory().numTensors;
    const host = new Map([
      ["a.weight", { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
      ["a.bias", { shape: [3], data: Float32Array.of(-1, 0.5, 1e-8) }],
    ]);
    for (const tensors of [paramTensors(host), paramVariables(host)]) {
      assert.deepEqual(hostParams(tensors), host);
      disposeTensors(tensors);
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
