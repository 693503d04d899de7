/** The onnxruntime-node runner (providers, errors) and the model.json sidecar. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { modelSchema } from "../../src/config/schema.js";
import { UsageError, RuntimeFailure } from "../../src/errors.js";
import { exportOnnx, type ExportInput, type TracedForward } from "../../src/export/onnx-export.js";
import { createOnnxSession, releaseOnnxSession, runOnnx } from "../../src/export/onnx-runner.js";
import { loadOnnxExport, ONNX_SIDECAR_FORMAT, readOnnxSidecar, sidecarPathFor, writeOnnxSidecar, type OnnxSidecar } from "../../src/export/sidecar.js";
import { tempDir } from "../helpers/cli.js";

const dir = tempDir("diffx-runner-");
const inputs: ExportInput[] = [
  { name: "x", dtype: "float32", shape: ["batch", 2] },
  { name: "t", dtype: "float32", shape: ["batch"] },
];
// y = x · W + t (W = [[1, 2], [3, 4]]): small enough to check by hand.
const params = new Map([["w", { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }]]);
const forward: TracedForward = (ops, v) => ops.add(ops.matMul(v.x!, ops.param("w")), ops.reshape(v.t!, [0, 1]));
const file = path.join(dir, "model.onnx");
const summary = exportOnnx(forward, params, inputs, file);

test("runner: a hand-checked run on the CPU provider", async () => {
  const s = await createOnnxSession(file, { threads: 2 });
  try {
    assert.equal(s.provider, "cpu");
    assert.equal(s.threads, 2);
    assert.deepEqual([...s.inputNames], ["x", "t"]);
    const y = await runOnnx(s, { x: { data: Float32Array.from([1, 0, 0.5, -1]), shape: [2, 2] }, t: { data: Float32Array.from([10, 20]), shape: [2] } });
    // [1, 0]·W + 10 = [11, 12]; [0.5, −1]·W + 20 = [0.5 − 3 + 20, 1 − 4 + 20] = [17.5, 17]
    assert.deepEqual([...y], [11, 12, 17.5, 17]);
  } finally {
    await releaseOnnxSession(s);
  }
});

test("runner: clear errors for a missing file, a corrupt file, a missing or unknown input, a bad shape", async () => {
  await assert.rejects(createOnnxSession(path.join(dir, "nope.onnx")), (e: unknown) => e instanceof UsageError && /nope\.onnx: no such ONNX model file/.test(e.message));
  const bad = path.join(dir, "bad.onnx");
  fs.writeFileSync(bad, "not a model");
  await assert.rejects(createOnnxSession(bad), (e: unknown) => e instanceof UsageError && /bad\.onnx: onnxruntime cannot load this model/.test(e.message));
  const s = await createOnnxSession(file, { threads: 1 });
  try {
    await assert.rejects(runOnnx(s, { x: { data: new Float32Array(2), shape: [1, 2] } }), (e: unknown) => e instanceof RuntimeFailure && /no value given for the model input "t"/.test(e.message));
    await assert.rejects(
      runOnnx(s, { x: { data: new Float32Array(2), shape: [1, 2] }, t: { data: new Float32Array(1), shape: [1] }, y: { data: new Float32Array(1), shape: [1] } }),
      /the model has no input "y"/,
    );
    await assert.rejects(runOnnx(s, { x: { data: new Float32Array(3), shape: [1, 3] }, t: { data: new Float32Array(1), shape: [1] } }), (e: unknown) => e instanceof RuntimeFailure && /onnxruntime failed on inputs x \[1, 3\], t \[1\]/.test(e.message));
    await assert.rejects(runOnnx(s, { x: { data: new Float32Array(3), shape: [1, 2] }, t: { data: new Float32Array(1), shape: [1] } }), /3 values for shape \[1, 2\]/);
  } finally {
    await releaseOnnxSession(s);
  }
});

function sidecar(): OnnxSidecar {
  return {
    format: ONNX_SIDECAR_FORMAT,
    diffx_version: "0.1.0",
    model_file: "model.onnx",
    model_sha256: summary.sha256,
    source: { run: "runs/demo", step: 200, ema: true, config_hash: "abc" },
    prediction: "v",
    schedule: { kind: "cosine", timesteps: 1000 },
    resolution: 16,
    image_channels: 3,
    conditioning: "text",
    inputs,
    output: { name: summary.outputName, shape: summary.outputShape },
    tokenizer: { format: "diffx-tokenizer", version: 1, vocab: ["<pad>", "<unk>", "<bos>", "red"] },
    max_tokens: 8,
    model_config: modelSchema.parse({ resolution: 16, channels: [8, 16], conditioning: "text", max_tokens: 8 }),
  };
}

test("sidecar: model.onnx → model.json; written, read back, and tied to the model by sha256", () => {
  assert.equal(sidecarPathFor("/a/b/model.onnx"), "/a/b/model.json");
  assert.equal(sidecarPathFor("/a/b/net.ONNX"), "/a/b/net.json");
  writeOnnxSidecar(sidecarPathFor(file), sidecar());
  const loaded = loadOnnxExport(file);
  assert.deepEqual(loaded.sidecar, sidecar());
  assert.equal(JSON.parse(fs.readFileSync(sidecarPathFor(file), "utf8")).format, "diffx-onnx/1");
});

test("sidecar: a changed model file, a bad key, or a missing sidecar is a UsageError naming the file", () => {
  const other = path.join(dir, "other", "model.onnx");
  fs.mkdirSync(path.dirname(other), { recursive: true });
  fs.copyFileSync(file, other);
  writeOnnxSidecar(sidecarPathFor(other), { ...sidecar(), model_sha256: "0".repeat(64) });
  assert.throws(() => loadOnnxExport(other), (e: unknown) => e instanceof UsageError && /does not match .*model\.json \(sha256 differs\)/.test(e.message));
  fs.writeFileSync(sidecarPathFor(other), JSON.stringify({ ...sidecar(), schedule: { kind: "quadratic", timesteps: 10 } }));
  assert.throws(() => readOnnxSidecar(sidecarPathFor(other)), (e: unknown) => e instanceof UsageError && /model\.json: schedule\.kind: /.test(e.message));
  fs.rmSync(sidecarPathFor(other));
  assert.throws(() => loadOnnxExport(other), /model\.json: missing/);
});
