/**
 * diffx's wasm BatchMatMul (batched / transposed products fed to XNNPACK one item at a time)
 * against tfjs's pure-JS cpu backend, for every transpose combination, batch broadcasting and
 * the attention shapes of the UNet; and the gradient of an attention block against cpu.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/engine/backend.js";
import { relativeError, seededValues } from "./helpers.js";

before(async () => {
  // 2 threads even on a busy machine ("auto" would pick 1): the threaded path is the harder one.
  const wasm = await initBackend("wasm", { threads: 2 });
  assert.ok(wasm.kernels?.includes("BatchMatMul"), JSON.stringify(wasm.kernels));
});

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

async function matMulOn(backend: string, aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const a = tf.tensor(seededValues(size(aShape), 11), aShape);
    const b = tf.tensor(seededValues(size(bShape), 12), bShape);
    const y = tf.matMul(a, b, transposeA, transposeB);
    return { values: y.dataSync() as Float32Array, shape: y.shape };
  });
}

const CASES: { a: number[]; b: number[]; tA: boolean; tB: boolean }[] = [
  // self-attention at 16×16 (256 tokens), q·kᵀ, weights·v and their gradients
  { a: [3, 256, 40], b: [3, 256, 40], tA: false, tB: true },
  { a: [3, 256, 256], b: [3, 256, 40], tA: false, tB: false },
  { a: [3, 256, 256], b: [3, 256, 40], tA: true, tB: false },
  { a: [3, 256, 40], b: [3, 40, 256], tA: true, tB: true },
  // multi-head rank 4, cross-attention to 32 tokens
  { a: [2, 4, 64, 16], b: [2, 4, 32, 16], tA: false, tB: true },
  { a: [2, 4, 64, 32], b: [2, 4, 32, 16], tA: false, tB: false },
  // one side broadcast over the batch (batch 1 against batch 5), odd sizes
  { a: [5, 37, 29], b: [1, 29, 41], tA: false, tB: false },
  { a: [1, 29, 37], b: [5, 41, 29], tA: true, tB: true },
  // a rank-2 product with a transpose (the stock matMul gradient)
  { a: [70, 50], b: [70, 60], tA: true, tB: false },
  { a: [70, 50], b: [60, 50], tA: false, tB: true },
  // tiny products stay on the stock kernel
  { a: [4, 3, 2], b: [4, 2, 3], tA: false, tB: false },
];

for (const c of CASES) {
  test(`wasm BatchMatMul matches cpu: [${c.a.join(",")}]${c.tA ? "ᵀ" : ""} · [${c.b.join(",")}]${c.tB ? "ᵀ" : ""}`, async () => {
    const want = await matMulOn("cpu", c.a, c.b, c.tA, c.tB);
    await tf.setBackend("wasm");
    const before = tf.memory().numTensors;
    const got = await matMulOn("wasm", c.a, c.b, c.tA, c.tB);
    assert.equal(tf.memory().numTensors, before, "no tensor leaked");
    assert.deepEqual(got.shape, want.shape);
    assert.ok(relativeError(got.values, want.values) <= 1e-5, `off by ${relativeError(got.values, want.values)}`);
  });
}

test("wasm BatchMatMul: new right operands are not served from a stale XNNPACK weight cache", async () => {
  // XNNPACK caches packed weights by tensor id; fresh tensors with new contents must give new results.
  for (let round = 0; round < 3; round++) {
    const product = async (backend: string): Promise<Float32Array> => {
      await tf.setBackend(backend);
      return tf.tidy(() => tf.matMul(tf.tensor(seededValues(2 * 48 * 32, 20 + round), [2, 48, 32]), tf.tensor(seededValues(2 * 32 * 40, 30 + round), [2, 32, 40])).dataSync() as Float32Array);
    };
    const want = await product("cpu");
    const got = await product("wasm");
    assert.ok(relativeError(got, want) <= 1e-5, `round ${round} off by ${relativeError(got, want)}`);
  }
});

async function attentionGradsOn(backend: string): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const [n, s, d] = [2, 64, 24];
    const q = tf.tensor(seededValues(n * s * d, 1), [n, s, d]);
    const k = tf.tensor(seededValues(n * s * d, 2), [n, s, d]);
    const v = tf.tensor(seededValues(n * s * d, 3), [n, s, d]);
    const dy = tf.tensor(seededValues(n * s * d, 4), [n, s, d]);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor): tf.Tensor => tf.sum(tf.mul(tf.matMul(tf.softmax(tf.mul(tf.matMul(a, b, false, true), 1 / Math.sqrt(d))), c), dy));
    return tf.grads(f)([q, k, v]).map((g) => g.dataSync() as Float32Array);
  });
}

test("attention gradients on wasm (our BatchMatMul) match the cpu backend", async () => {
  const want = await attentionGradsOn("cpu");
  const got = await attentionGradsOn("wasm");
  for (let i = 0; i < 3; i++) assert.ok(relativeError(got[i]!, want[i]!) <= 1e-5, `gradient ${"qkv"[i]} off by ${relativeError(got[i]!, want[i]!)}`);
});
