/**
 * The gradient of nearest-neighbour resizing at batch 3: diffx's cpu kernel against PyTorch
 * (test/fixtures/engine/make_conv_grads.py) and a hand-worked case; tfjs's stock cpu kernel is
 * shown to be wrong there (the reason ours exists); wasm's stock kernel is checked too.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/engine/backend.js";
import { registerEngineKernels, restoreStockKernels } from "../../src/engine/kernels/register.js";
import { nearestSourceIndices } from "../../src/engine/kernels/resize-nearest-grad.js";
import { relativeError, resizeCases, type ResizeCase } from "./helpers.js";

function forwardAndGrad(c: ResizeCase): { y: Float32Array; dx: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(c.x, c.xShape);
    const dy = tf.tensor4d(c.dy, [c.xShape[0], c.size[0], c.size[1], c.xShape[3]]);
    const y = tf.image.resizeNearestNeighbor(x, c.size);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(a as tf.Tensor4D, c.size), dy)))(x);
    return { y: y.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

test("cpu: our ResizeNearestNeighborGrad matches PyTorch at batch 3", async () => {
  const report = await initBackend("cpu", { threads: "auto" });
  assert.ok(report.kernels?.includes("ResizeNearestNeighborGrad"));
  for (const c of resizeCases()) {
    assert.equal(c.xShape[0], 3);
    const before = tf.memory().numTensors;
    const got = forwardAndGrad(c);
    assert.equal(tf.memory().numTensors, before, "no tensor leaked");
    assert.ok(relativeError(got.y, c.y) <= 1e-6, `${c.name}: forward differs from PyTorch`);
    assert.ok(relativeError(got.dx, c.dx) <= 1e-5, `${c.name}: dx off by ${relativeError(got.dx, c.dx)}`);
  }
});

test("cpu: a hand-worked 2× case at batch 3 (each input pixel collects its 2×2 block)", async () => {
  await initBackend("cpu", { threads: "auto" });
  // x: [3, 1, 2, 1]; dy = 1..24 over [3, 2, 4, 1]. Image b, pixel c collects dy rows 0–1, columns 2c, 2c+1.
  const dy = tf.tensor4d(Array.from({ length: 24 }, (_, i) => i + 1), [3, 2, 4, 1]);
  const x = tf.zeros([3, 1, 2, 1]) as tf.Tensor4D;
  const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(a as tf.Tensor4D, [2, 4]), dy)))(x);
  // image 0: [1+2+5+6, 3+4+7+8]; image 1 adds 8 to every dy; image 2 adds 16.
  assert.deepEqual(Array.from(dx.dataSync()), [14, 22, 46, 54, 78, 86]);
  tf.dispose([dy, x, dx]);
});

test("cpu: tfjs's stock kernel is wrong after the first image (why ours is registered)", async () => {
  await initBackend("cpu", { threads: "auto" });
  const c = resizeCases()[0]!;
  restoreStockKernels("cpu");
  try {
    const stock = forwardAndGrad(c);
    const perImage = stock.dx.length / 3;
    const first = relativeError(stock.dx.subarray(0, perImage), c.dx.slice(0, perImage));
    const rest = relativeError(stock.dx.subarray(perImage), c.dx.slice(perImage));
    assert.ok(first <= 1e-5, "the stock kernel is right for image 0");
    assert.ok(rest > 1e-2, `the stock kernel was expected to be wrong for images 1–2 (error ${rest}); if tfjs fixed it, ours may go`);
  } finally {
    registerEngineKernels("cpu");
  }
});

test("nearest source indices follow the forward kernel's rule (floor(r · in/out), clamped)", () => {
  assert.deepEqual(Array.from(nearestSourceIndices(4, 8, false, false)), [0, 0, 1, 1, 2, 2, 3, 3]);
  assert.deepEqual(Array.from(nearestSourceIndices(3, 7, false, false)), [0, 0, 0, 1, 1, 2, 2]);
  // align corners: round(r · (in − 1)/(out − 1))
  assert.deepEqual(Array.from(nearestSourceIndices(3, 5, true, false)), [0, 1, 1, 2, 2]);
  // half-pixel centres: floor((r + 0.5) · in/out)
  assert.deepEqual(Array.from(nearestSourceIndices(2, 3, false, true)), [0, 1, 1]);
});

test("wasm: the stock ResizeNearestNeighborGrad matches PyTorch at batch 3", async () => {
  await initBackend("wasm", { threads: 1 });
  for (const c of resizeCases()) {
    const got = forwardAndGrad(c);
    assert.ok(relativeError(got.dx, c.dx) <= 1e-5, `${c.name}: wasm dx off by ${relativeError(got.dx, c.dx)}`);
  }
});
