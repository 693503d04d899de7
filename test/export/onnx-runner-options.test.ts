/**
 * onnxruntime session options of the runner: intra-op threads sleep by default and spin only when
 * asked; the choice is recorded and changes no bit of the output. Runs return each call's output
 * in a buffer of its own (the runner no longer copies it), so a later run cannot change an
 * earlier result.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { exportOnnx, type ExportInput, type TracedForward } from "../../src/export/onnx-export.js";
import { createOnnxSession, releaseOnnxSession, runOnnx, spinByDefault, type OnnxFeed } from "../../src/export/onnx-runner.js";
import { Rng } from "../../src/engine/rng.js";
import { tempDir } from "../helpers/cli.js";

const dir = tempDir("diffx-runner-opts-");
const N = 64;
const inputs: ExportInput[] = [
  { name: "x", dtype: "float32", shape: ["batch", N] },
  { name: "t", dtype: "float32", shape: ["batch"] },
];
// y = silu(x · W) · W2 + t: large enough that onnxruntime splits the matmuls over both threads
const params = new Map([
  ["w", { shape: [N, N], data: new Rng(3, "runner-opts", "w").normals(N * N) }],
  ["w2", { shape: [N, N], data: new Rng(3, "runner-opts", "w2").normals(N * N) }],
]);
const forward: TracedForward = (ops, v) => ops.add(ops.matMul(ops.silu(ops.matMul(v.x!, ops.param("w"))), ops.param("w2")), ops.reshape(v.t!, [0, 1]));
const file = path.join(dir, "model.onnx");
exportOnnx(forward, params, inputs, file);

function feeds(seed: number, batch: number): Record<string, OnnxFeed> {
  return {
    x: { data: new Rng(seed, "runner-opts", "x").normals(batch * N), shape: [batch, N] },
    t: { data: Float32Array.from({ length: batch }, (_, i) => i), shape: [batch] },
  };
}

test("sessions sleep or spin as asked, and give the same bits either way; by default they spin only on a machine that is not busy", async () => {
  assert.equal(spinByDefault(2, 0.5), true);
  assert.equal(spinByDefault(2, 1.99), true);
  assert.equal(spinByDefault(2, 2), false);
  assert.equal(spinByDefault(8, 12.3), false);
  const sleeping = await createOnnxSession(file, { threads: 2, spinning: false });
  const spinning = await createOnnxSession(file, { threads: 2, spinning: true });
  try {
    assert.equal(sleeping.spinning, false);
    assert.equal(spinning.spinning, true);
    for (const seed of [1, 2]) {
      const a = await runOnnx(sleeping, feeds(seed, 256));
      const b = await runOnnx(spinning, feeds(seed, 256));
      assert.equal(a.length, 256 * N);
      assert.deepEqual(a, b, `seed ${seed}`);
    }
  } finally {
    await releaseOnnxSession(sleeping);
    await releaseOnnxSession(spinning);
  }
});

test("each run's output is its own: a later run leaves an earlier result alone", async () => {
  const s = await createOnnxSession(file, { threads: 2 });
  try {
    const first = await runOnnx(s, feeds(1, 8));
    const kept = first.slice();
    const second = await runOnnx(s, feeds(2, 8));
    assert.notDeepEqual(second, kept);
    assert.deepEqual(first, kept);
    assert.notEqual(first.buffer, second.buffer);
  } finally {
    await releaseOnnxSession(s);
  }
});
