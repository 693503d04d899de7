/**
 * "One forward, two interpreters": a composite network written once against Ops<T> runs
 * through OnnxOps → a .onnx file → onnxruntime-node, through TfjsOps on the tfjs cpu backend,
 * and is compared with the same network in PyTorch (float64, recorded fixture). The written
 * file passes onnx.checker (full check) when /usr/bin/python3 has onnx.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { exportOnnx, type ExportInput } from "../../src/export/onnx-export.js";
import { createOnnxSession, releaseOnnxSession, runOnnxWithShape, type OnnxFeed } from "../../src/export/onnx-runner.js";
import type { ParamTensor } from "../../src/nn/onnx-ops.js";
import { TfjsOps } from "../../src/nn/tfjs-ops.js";
import { tempDir } from "../helpers/cli.js";
import { compositeForward, type CompositeDims } from "./composite.js";
import { onnxCheck, pythonHas, randn, relError, size, useTfCpu } from "./helpers.js";

interface Fixture {
  dims: CompositeDims;
  params: Record<string, { shape: number[]; data: number[] }>;
  inputs: Record<"x" | "t" | "tokens", { shape: number[]; data: number[] }>;
  output: { shape: number[]; data: number[] };
}

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(fs.readFileSync(path.join(here, "..", "fixtures", "export", "composite.json"), "utf8")) as Fixture;
const dims = fixture.dims;
const params = new Map<string, ParamTensor>(Object.entries(fixture.params).map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }]));
const inputs: ExportInput[] = [
  { name: "x", dtype: "float32", shape: ["batch", dims.res, dims.res, dims.cin] },
  { name: "t", dtype: "float32", shape: ["batch"] },
  { name: "tokens", dtype: "int32", shape: ["batch", dims.tokens] },
];
const forward = <T>(ops: import("../../src/nn/ops.js").Ops<T>, v: Record<string, T>): T => compositeForward(ops, v, dims);

function feedsFromFixture(): Record<string, OnnxFeed> {
  const f = fixture.inputs;
  return {
    x: { data: Float32Array.from(f.x.data), shape: f.x.shape },
    t: { data: Float32Array.from(f.t.data), shape: f.t.shape },
    tokens: { data: Int32Array.from(f.tokens.data), shape: f.tokens.shape },
  };
}

function randomFeeds(batch: number): Record<string, OnnxFeed> {
  const ids = randn(batch * dims.tokens, `tokens/${batch}`);
  return {
    x: { data: randn(batch * dims.res * dims.res * dims.cin, `x/${batch}`), shape: [batch, dims.res, dims.res, dims.cin] },
    t: { data: Float32Array.from(randn(batch, `t/${batch}`), (z) => Math.abs(z) * 300), shape: [batch] },
    tokens: { data: Int32Array.from(ids, (z) => Math.min(dims.vocab - 1, Math.floor(Math.abs(z) * 4))), shape: [batch, dims.tokens] },
  };
}

/** The same forward through src/nn/tfjs-ops.ts on the cpu backend. */
function tfjsForward(feeds: Record<string, OnnxFeed>): { data: Float32Array; shape: number[] } {
  const tensors = new Map<string, tf.Tensor>();
  for (const [name, p] of params) tensors.set(name, tf.tensor(p.data, p.shape));
  try {
    const out = tf.tidy(() => {
      const v: Record<string, tf.Tensor> = {};
      for (const [name, f] of Object.entries(feeds)) v[name] = f.data instanceof Int32Array ? tf.tensor(f.data, f.shape, "int32") : tf.tensor(f.data as Float32Array, f.shape);
      return compositeForward(new TfjsOps(tensors), v, dims);
    });
    const result = { data: out.dataSync() as Float32Array, shape: out.shape.slice() };
    out.dispose();
    return result;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

const dir = tempDir("diffx-export-");
const file = path.join(dir, "composite.onnx");

test("composite network: exported file runs in onnxruntime and matches PyTorch (float64) within 1e-5", async (t) => {
  const summary = exportOnnx(forward, params, inputs, file);
  assert.ok(fs.existsSync(file));
  assert.equal(summary.bytes, fs.statSync(file).size);
  assert.deepEqual(summary.outputShape, ["batch", dims.res, dims.res, dims.cout]);
  assert.equal(summary.parameterCount, [...params.values()].reduce((n, p) => n + p.data.length, 0));
  t.diagnostic(`nodes ${summary.nodeCount}: ${JSON.stringify(summary.opCounts)}`);
  const session = await createOnnxSession(file, { threads: 1 });
  try {
    assert.deepEqual([...session.inputNames].sort(), ["t", "tokens", "x"]);
    const got = await runOnnxWithShape(session, feedsFromFixture());
    assert.deepEqual(got.shape, fixture.output.shape);
    const err = relError(got.data, fixture.output.data);
    t.diagnostic(`onnxruntime vs torch: relative error ${err.toExponential(2)}`);
    assert.ok(err <= 1e-5, `relative error ${err}`);
  } finally {
    await releaseOnnxSession(session);
  }
});

test("composite network: onnxruntime and TfjsOps agree within 1e-5 at batch 1 and 5 (symbolic batch)", async (t) => {
  await useTfCpu();
  if (!fs.existsSync(file)) exportOnnx(forward, params, inputs, file);
  const session = await createOnnxSession(file, { threads: 1 });
  try {
    for (const batch of [1, 5]) {
      const feeds = randomFeeds(batch);
      const got = await runOnnxWithShape(session, feeds);
      const want = tfjsForward(feeds);
      assert.deepEqual(got.shape, want.shape);
      assert.equal(got.data.length, size(want.shape));
      const err = relError(got.data, want.data);
      t.diagnostic(`batch ${batch}: onnxruntime vs TfjsOps relative error ${err.toExponential(2)}`);
      assert.ok(err <= 1e-5, `batch ${batch}: relative error ${err}`);
    }
    const ref = tfjsForward(feedsFromFixture());
    const err = relError(ref.data, fixture.output.data);
    t.diagnostic(`TfjsOps vs torch: relative error ${err.toExponential(2)}`);
    assert.ok(err <= 1e-5, `TfjsOps vs torch: relative error ${err}`);
  } finally {
    await releaseOnnxSession(session);
  }
});

test("composite network: onnx.checker.check_model(full_check) accepts the file", { skip: !pythonHas("onnx") && "/usr/bin/python3 with onnx is not available" }, () => {
  if (!fs.existsSync(file)) exportOnnx(forward, params, inputs, file);
  assert.equal(onnxCheck(file), null);
});
