/**
 * Parity of the real diffx model (src/model) on both engines: exported with exportModel,
 * opened from the file + sidecar with onnxNetworkFromFile, against the same forward through
 * TfjsOps on the tfjs cpu backend — for every conditioning, at batch 1 and 3 (symbolic batch),
 * with conditional and null-condition rows. Then a full guided DDIM sample through each engine.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { modelSchema, type ModelConfig } from "../../src/config/schema.js";
import { Rng } from "../../src/engine/rng.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { guidedDenoiser, sample, seededNoise } from "../../src/diffusion/samplers/index.js";
import { exportModel } from "../../src/export/model-export.js";
import { onnxNetworkFromFile, onnxNetworkFromParams, type OnnxConditionInputs } from "../../src/export/onnx-network.js";
import { forward, initParams, modelParamSpecs, type ParamMap } from "../../src/model/model.js";
import { Tokenizer } from "../../src/model/tokenizer.js";
import { paramTensors, TfjsOps } from "../../src/nn/tfjs-ops.js";
import { conditionedDenoiser } from "../../src/sample/network-session.js";
import { tfjsNetwork } from "../../src/sample/tfjs-network.js";
import { tempDir } from "../helpers/cli.js";
import { onnxCheck, pythonHas, relError, useTfCpu } from "./helpers.js";

const TINY = { resolution: 8, channels: [8, 16], res_blocks: 1, attention: [4], groups: 4, time_dim: 16, text_dim: 16, text_layers: 1, text_heads: 2, max_tokens: 6, sketch_channels: 4 };
const CAPTIONS = ["a red circle on blue", "green square", "red square on a green field"];
const tokenizer = Tokenizer.build(CAPTIONS);
const dir = tempDir("diffx-model-export-");

/** Initial parameters with every value random (zero-initialised layers would hide errors). */
function randomParams(cfg: ModelConfig): ParamMap {
  const params = initParams(modelParamSpecs(cfg, tokenizer.size), 3);
  for (const [name, p] of params) {
    const rng = new Rng(11, "test-export-params", name);
    const offset = name.endsWith(".gamma") ? 1 : 0;
    params.set(name, { shape: p.shape, data: Float32Array.from(p.data, () => offset + 0.3 * rng.normal()) });
  }
  return params;
}

function conditions(cfg: ModelConfig, batch: number, seed: number): OnnxConditionInputs {
  const rng = new Rng(seed, "test-export-conditions");
  if (cfg.conditioning === "text") {
    const tokens = new Int32Array(batch * cfg.max_tokens);
    for (let b = 0; b < batch; b++) tokens.set(tokenizer.encode(CAPTIONS[b % CAPTIONS.length] as string, cfg.max_tokens), b * cfg.max_tokens);
    return { tokens };
  }
  if (cfg.conditioning === "sketch") return { sketch: Float32Array.from(rng.normals(batch * cfg.resolution ** 2), Math.tanh) };
  return {};
}

function tfjsForward(cfg: ModelConfig, params: ParamMap, x: Float32Array, t: Float32Array, inputs: OnnxConditionInputs, cond: Float32Array): Float32Array {
  const B = t.length;
  const R = cfg.resolution;
  const tensors = paramTensors(params);
  try {
    return tf.tidy(() => {
      const y = forward(new TfjsOps(tensors), cfg, {
        x: tf.tensor(x, [B, R, R, 3]),
        t: tf.tensor(t, [B]),
        cond: tf.tensor(cond, [B]),
        tokens: inputs.tokens ? tf.tensor(inputs.tokens, [B, cfg.max_tokens], "int32") : undefined,
        sketch: inputs.sketch ? tf.tensor(inputs.sketch, [B, R, R, 1]) : undefined,
      });
      return y.dataSync() as Float32Array;
    });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

for (const conditioning of ["none", "text", "sketch"] as const) {
  test(`model (${conditioning}): exported file + sidecar on onnxruntime matches TfjsOps within 1e-5 at batch 1 and 3`, async (t) => {
    await useTfCpu();
    const cfg = modelSchema.parse({ ...TINY, conditioning });
    const params = randomParams(cfg);
    const file = path.join(dir, conditioning, "model.onnx");
    const result = exportModel({
      model: cfg,
      diffusion: { schedule: "cosine", timesteps: 1000, prediction: "v" },
      params,
      tokenizer: conditioning === "text" ? tokenizer.toJSON() : null,
      file,
      source: { run: null, step: null, ema: false, config_hash: null },
    });
    assert.ok(fs.existsSync(file) && fs.existsSync(path.join(dir, conditioning, "model.json")));
    t.diagnostic(`${result.bytes} bytes, ${result.nodeCount} nodes, ${result.parameterCount} parameters; ${JSON.stringify(result.opCounts)}`);
    const { network, sidecar } = await onnxNetworkFromFile(file, { threads: 1 });
    try {
      assert.equal(sidecar.prediction, "v");
      assert.deepEqual(sidecar.schedule, { kind: "cosine", timesteps: 1000 });
      assert.deepEqual(sidecar.tokenizer, conditioning === "text" ? tokenizer.toJSON() : null);
      assert.deepEqual([...network.session.inputNames], sidecar.inputs.map((i) => i.name));
      for (const batch of [1, 3]) {
        const rng = new Rng(batch, "test-export-inputs", conditioning);
        const x = rng.normals(batch * cfg.resolution ** 2 * 3);
        const ts = Float32Array.from({ length: batch }, (_, i) => [999, 0, 412.5][i % 3] as number);
        const cond = Float32Array.from({ length: batch }, (_, i) => (i % 2 === 0 ? 1 : 0));
        const inputs = conditions(cfg, batch, batch);
        const got = await network.run(x, ts, inputs, cond);
        const want = tfjsForward(cfg, params, x, ts, inputs, cond);
        const err = relError(got, want);
        t.diagnostic(`batch ${batch}: onnxruntime vs TfjsOps relative error ${err.toExponential(2)}`);
        assert.ok(err <= 1e-5, `batch ${batch}: relative error ${err}`);
      }
    } finally {
      network.dispose();
    }
    if (conditioning === "text" && pythonHas("onnx")) assert.equal(onnxCheck(file), null);
  });
}

test("model (sketch): the in-memory network (no file) gives the same bits as the exported file", async () => {
  const cfg = modelSchema.parse({ ...TINY, conditioning: "sketch" });
  const params = randomParams(cfg);
  const file = path.join(dir, "memory", "model.onnx");
  exportModel({ model: cfg, diffusion: { schedule: "linear", timesteps: 50, prediction: "eps" }, params, tokenizer: null, file, source: { run: null, step: null, ema: false, config_hash: null } });
  const fromFile = (await onnxNetworkFromFile(file, { threads: 1 })).network;
  const inMemory = await onnxNetworkFromParams(cfg, params, { threads: 1 });
  try {
    const x = new Rng(1, "x").normals(2 * 8 * 8 * 3);
    const args = [x, Float32Array.from([3, 40]), conditions(cfg, 2, 9), Float32Array.from([1, 0])] as const;
    assert.deepEqual(await inMemory.run(...args), await fromFile.run(...args));
    await assert.rejects(inMemory.run(x, Float32Array.from([3, 40]), {}, Float32Array.from([1, 0])), /needs sketches/);
  } finally {
    fromFile.dispose();
    inMemory.dispose();
  }
});

test("model (text): a guided 10-step DDIM sample through tfjs and through onnxruntime differs by < 1e-3", async (t) => {
  await useTfCpu();
  const cfg = modelSchema.parse({ ...TINY, conditioning: "text" });
  const params = randomParams(cfg);
  const file = path.join(dir, "ddim", "model.onnx");
  exportModel({ model: cfg, diffusion: { schedule: "cosine", timesteps: 1000, prediction: "eps" }, params, tokenizer: tokenizer.toJSON(), file, source: { run: null, step: null, ema: true, config_hash: null } });
  const { network } = await onnxNetworkFromFile(file, { threads: 1 });
  const tfNet = tfjsNetwork(cfg, params);
  try {
    const schedule = makeSchedule({ schedule: "cosine", timesteps: 1000 });
    const inputs = conditions(cfg, 2, 0);
    const run = (session: typeof tfNet) =>
      sample({
        denoiser: guidedDenoiser(conditionedDenoiser(session, cfg, inputs, true), 3),
        schedule,
        prediction: "eps",
        // x̂₀ clipped to [−1, 1] as for images: with random (untrained) weights the unclipped
        // x̂₀ = (x − √(1−ᾱ) ε̂)/√ᾱ reaches 1e5 at t ≈ T, where float32 rounding alone is ~0.1.
        sampler: { name: "ddim", steps: 10, eta: 0, clipX0: 1 },
        noise: seededNoise(5, cfg.resolution ** 2 * 3),
        samples: [0, 1],
        sampleSize: cfg.resolution ** 2 * 3,
      });
    const a = await run(tfNet);
    const b = await run(network);
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) maxAbs = Math.max(maxAbs, Math.abs((a[i] as number) - (b[i] as number)));
    t.diagnostic(`max |tfjs − onnxruntime| over the final samples: ${maxAbs.toExponential(2)}; max |x| ${Math.max(...Array.from(a, Math.abs)).toExponential(2)}`);
    assert.ok(Number.isFinite(maxAbs) && maxAbs < 1e-3, `max abs difference ${maxAbs}`);
  } finally {
    tfNet.dispose();
    network.dispose();
  }
});
