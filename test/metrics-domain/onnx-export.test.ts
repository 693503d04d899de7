/**
 * The domain network is written against the op interface, so it exports to ONNX like the
 * diffusion model: the committed weights traced through the ONNX interpreter and run by
 * onnxruntime-node give the same features as tfjs (≤ 1e-4 relative).
 */
import assert from "node:assert/strict";
import { before, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-node";
import { buildOnnxModel } from "../../src/export/onnx-export.js";
import { readDomainModel } from "../../src/metrics/domain/model-file.js";
import { features, FEATURE_DIMS } from "../../src/metrics/domain/network.js";
import { Rng } from "../../src/engine/rng.js";
import { paramTensors, TfjsOps } from "../../src/nn/tfjs-ops.js";

before(async () => {
  await tf.setBackend("cpu");
});

it("exported features (onnxruntime) match the tfjs forward", async () => {
  const model = readDomainModel();
  const built = buildOnnxModel((ops, inputs) => features(ops, inputs.x), model.params, [{ name: "x", dtype: "float32", shape: ["batch", 32, 32, 3] }], { outputName: "features" });
  assert.deepEqual(built.outputShape, ["batch", FEATURE_DIMS]);

  const n = 5;
  const x = new Rng(7, "onnx-domain-input").normals(n * 32 * 32 * 3).map((v) => Math.tanh(v));
  const session = await ort.InferenceSession.create(built.bytes);
  const out = await session.run({ x: new ort.Tensor("float32", x, [n, 32, 32, 3]) });
  const onnx = out.features.data as Float32Array;
  await session.release();

  const tensors = paramTensors(model.params);
  const ref = tf.tidy(() => features(new TfjsOps(tensors), tf.tensor4d(x, [n, 32, 32, 3]))).dataSync();
  tf.dispose([...tensors.values()]);

  let diff = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(onnx[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  assert.equal(onnx.length, n * FEATURE_DIMS);
  assert.ok(diff / scale < 1e-4, `relative error ${diff / scale}`);
});
