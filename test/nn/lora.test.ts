/**
 * The LoRA layer (src/nn/lora.ts) against a hand-written PyTorch LoRA layer
 * (test/fixtures/lora/make_lora.py → lora.json: peft's Linear / Conv2d LoRA forward and merge in
 * float64), on all three interpreters of the op interface:
 * - forward: tfjs, and the ONNX export traced and run by onnxruntime;
 * - gradients of sum(y·g) w.r.t. x, A and B: the ONNX gradient graph with W and b frozen
 *   (initializers, no gradient output for them) and tfjs autodiff;
 * - the merged weight W + (α/r)·A·B against PyTorch's merge (peft's get_delta_weight for convs).
 * And on the whole model (ci-tiny): with B = 0 the adapted network equals the base; the LoRA
 * training graph outputs gradients only for the adapter and computes weight gradients (Xᵀ·G
 * products; the embedding's one-hot scatter-add) for the adapter's matrices only, and its B gradients equal s·Aᵀ·∂L/∂W from the (separately tested) full
 * training graph, since ∂L/∂B = s·Aᵀ·∂L/∂W for y = x·W + s·(x·A)·B.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-node";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import { loadConfig } from "../../src/config/load.js";
import { initBackend } from "../../src/engine/backend.js";
import { Rng } from "../../src/engine/rng.js";
import { makeSchedule } from "../../src/diffusion/schedule.js";
import { objectiveConfig } from "../../src/diffusion/objective.js";
import { buildOnnxModel } from "../../src/export/onnx-export.js";
import { buildModelOnnx } from "../../src/export/model-export.js";
import { loraLayers, loraPlan, loraSpecs, type LoraTarget } from "../../src/model/lora.js";
import { modelParamSpecs } from "../../src/model/model.js";
import { initParams, type ParamMap } from "../../src/model/params.js";
import { mergeLora, mergedWeight, withLora, type LoraPlan } from "../../src/nn/lora.js";
import { OnnxGradOps } from "../../src/nn/onnx-grad.js";
import type { Ops } from "../../src/nn/ops.js";
import { TfjsOps } from "../../src/nn/tfjs-ops.js";
import { buildTrainingGraph } from "../../src/train/onnx-gradients.js";
import { tfjsNetwork } from "../../src/sample/tfjs-network.js";
import { onnxNetworkFromParams } from "../../src/export/onnx-network.js";
import { decodeF32, type EncodedTensor, relError } from "./fixture.js";
import { UsageError } from "../../src/errors.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TINY = path.resolve(HERE, "..", "..", "configs", "ci-tiny.yaml");
const TOLERANCE = 1e-5;

interface LoraCase {
  label: string;
  kind: "linear" | "conv";
  stride?: number;
  rank: number;
  alpha: number;
  x: EncodedTensor;
  weight: EncodedTensor;
  bias: EncodedTensor;
  lora_a: EncodedTensor;
  lora_b: EncodedTensor;
  g: EncodedTensor;
  out: EncodedTensor;
  grad_x: EncodedTensor;
  grad_lora_a: EncodedTensor;
  grad_lora_b: EncodedTensor;
  merged: EncodedTensor;
}

const cases = (JSON.parse(fs.readFileSync(path.resolve(HERE, "..", "fixtures", "lora", "lora.json"), "utf8")) as { cases: LoraCase[] }).cases;
const host = (e: EncodedTensor) => ({ shape: e.shape.slice(), data: decodeF32(e) });
const LAYER = "layer";
const planOf = (c: LoraCase): LoraPlan => ({ scale: c.alpha / c.rank, layers: new Set([LAYER]) });

/** The layer under test, written against the op interface exactly as src/nn/layers.ts writes linear and conv. */
function layer<T>(ops: Ops<T>, c: LoraCase, x: T): T {
  const w = ops.param(`${LAYER}.weight`);
  const b = ops.param(`${LAYER}.bias`);
  return c.kind === "linear" ? ops.linear(x, w, b) : ops.conv2d(x, w, b, c.stride ?? 1, [1, 1, 1, 1]);
}

function params(c: LoraCase): ParamMap {
  return new Map([
    [`${LAYER}.weight`, host(c.weight)],
    [`${LAYER}.bias`, host(c.bias)],
    [`${LAYER}.lora_a`, host(c.lora_a)],
    [`${LAYER}.lora_b`, host(c.lora_b)],
  ]);
}

describe("LoRA layer vs a PyTorch LoRA layer", () => {
  before(async () => {
    await initBackend("cpu", { threads: 1 });
  });

  for (const c of cases) {
    it(`${c.label}: forward on tfjs and on the ONNX export (onnxruntime)`, async () => {
      const p = params(c);
      const tensors = new Map([...p].map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
      const y = tf.tidy(() => layer(withLora(new TfjsOps(tensors), planOf(c)), c, tf.tensor(decodeF32(c.x), c.x.shape)));
      const tfjsOut = y.dataSync() as Float32Array;
      y.dispose();
      for (const t of tensors.values()) t.dispose();
      assert.ok(relError(tfjsOut, decodeF32(c.out)) < TOLERANCE, `tfjs: ${relError(tfjsOut, decodeF32(c.out))}`);

      const built = buildOnnxModel(<T>(ops: Ops<T>, v: Record<string, T>) => layer(withLora(ops, planOf(c)), c, v.x as T), p, [{ name: "x", dtype: "float32", shape: c.x.shape }]);
      const session = await ort.InferenceSession.create(built.bytes, { intraOpNumThreads: 1 });
      const out = await session.run({ x: new ort.Tensor("float32", decodeF32(c.x), c.x.shape) });
      await session.release();
      const onnxOut = out.out.data as Float32Array;
      assert.ok(relError(onnxOut, decodeF32(c.out)) < TOLERANCE, `onnx: ${relError(onnxOut, decodeF32(c.out))}`);
      assert.equal(built.parameterCount, [...p.values()].reduce((a, t) => a + t.data.length, 0), "the adapter's A and B are initializers of the export");
    });

    it(`${c.label}: gradients w.r.t. x, A and B with W and b frozen (ONNX gradient graph, tfjs autodiff)`, async () => {
      const p = params(c);
      const trainable = new Map([
        ["x", c.x.shape],
        [`${LAYER}.lora_a`, c.lora_a.shape],
        [`${LAYER}.lora_b`, c.lora_b.shape],
      ]);
      const frozen = new Map([[`${LAYER}.weight`, host(c.weight)], [`${LAYER}.bias`, host(c.bias)]]);
      const ops = new OnnxGradOps(trainable, frozen);
      const y = layer(withLora(ops, planOf(c)), c, ops.param("x"));
      const g = host(c.g);
      const count = g.data.length;
      const loss = ops.scale(ops.mean(ops.mul(y, ops.constant(g.data, g.shape)), g.shape.map((_, i) => i), false), count);
      const grads = ops.backward(loss);
      assert.deepEqual([...grads.keys()].sort(), ["layer.lora_a", "layer.lora_b", "x"], "no gradient for the frozen weight and bias");
      for (const [n, v] of grads) ops.output(v, `grad:${n}`);
      const session = await ort.InferenceSession.create(ops.graph.toBytes("lora-test", "test"), { graphOptimizationLevel: "all", intraOpNumThreads: 1 });
      assert.deepEqual([...session.inputNames].sort(), ["layer.lora_a", "layer.lora_b", "x"], "W and b are initializers, not inputs");
      const feeds: Record<string, ort.Tensor> = {
        x: new ort.Tensor("float32", decodeF32(c.x), c.x.shape),
        "layer.lora_a": new ort.Tensor("float32", (p.get("layer.lora_a") as { data: Float32Array }).data, c.lora_a.shape),
        "layer.lora_b": new ort.Tensor("float32", (p.get("layer.lora_b") as { data: Float32Array }).data, c.lora_b.shape),
      };
      const out = await session.run(feeds);
      await session.release();
      for (const [name, ref] of [["x", c.grad_x], ["layer.lora_a", c.grad_lora_a], ["layer.lora_b", c.grad_lora_b]] as const) {
        const got = out[`grad:${name}`].data as Float32Array;
        assert.ok(relError(got, decodeF32(ref)) < TOLERANCE, `onnx ∂/∂${name}: ${relError(got, decodeF32(ref))}`);
      }

      // tfjs autodiff through the same LoRA layer (the trainer's engine.gradients: tfjs path)
      const fixed = new Map([[`${LAYER}.weight`, tf.tensor(decodeF32(c.weight), c.weight.shape)], [`${LAYER}.bias`, tf.tensor(decodeF32(c.bias), c.bias.shape)]]);
      const gradFn = tf.grads((x: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
        const ops = withLora(new TfjsOps(new Map([...fixed, [`${LAYER}.lora_a`, a], [`${LAYER}.lora_b`, b]])), planOf(c));
        return tf.sum(tf.mul(layer(ops, c, x), tf.tensor(g.data, g.shape)));
      });
      const tg = gradFn([tf.tensor(decodeF32(c.x), c.x.shape), tf.tensor(decodeF32(c.lora_a), c.lora_a.shape), tf.tensor(decodeF32(c.lora_b), c.lora_b.shape)]);
      [c.grad_x, c.grad_lora_a, c.grad_lora_b].forEach((ref, i) => {
        const got = tg[i].dataSync() as Float32Array;
        assert.ok(relError(got, decodeF32(ref)) < TOLERANCE, `tfjs gradient ${i}: ${relError(got, decodeF32(ref))}`);
      });
      tf.dispose([...tg, ...fixed.values()]);
    });

    it(`${c.label}: merged weight W + (α/r)·A·B equals PyTorch's merge`, () => {
      const merged = mergedWeight(host(c.weight), host(c.lora_a), host(c.lora_b), c.alpha / c.rank, LAYER);
      assert.deepEqual(merged.shape, c.merged.shape);
      assert.ok(relError(merged.data, decodeF32(c.merged)) < 1e-6, `${relError(merged.data, decodeF32(c.merged))}`);
    });
  }
});

describe("LoRA on the whole model (ci-tiny)", () => {
  const { config } = loadConfig(TINY, []);
  const model = config.model;
  const vocab = 20;
  const specs = modelParamSpecs(model, vocab);
  const settings = { rank: 2, alpha: 4, targets: ["attn_q", "attn_v", "conv3x3", "text_encoder", "time"] as const };
  const base = initParams(specs, 7);
  const plan = loraPlan(specs, { ...settings, targets: [...settings.targets] }, model);
  const adapterSpecs = loraSpecs(specs, { ...settings, targets: [...settings.targets] }, model);

  before(async () => {
    await initBackend("cpu", { threads: 1 });
  });

  it("selects the targeted layers only, with A [.., in, r] and B [r, out]", () => {
    const layers = [...plan.layers];
    assert.ok(layers.includes("down.1.attn.0.q") && layers.includes("down.1.cross.0.v") && layers.includes("conv_in") && layers.includes("text.layer.0.mlp.1") && layers.includes("time.mlp.0"));
    assert.ok(!layers.some((l) => l.endsWith(".k") && l.startsWith("down")), "attn_k not targeted");
    assert.ok(!layers.some((l) => l.endsWith(".skip")), "conv1x1 not targeted");
    const a = adapterSpecs.find((s) => s.name === "conv_in.lora_a");
    const b = adapterSpecs.find((s) => s.name === "conv_in.lora_b");
    assert.deepEqual(a?.shape, [3, 3, 3, 2]);
    assert.deepEqual(b?.shape, [2, model.channels[0]]);
    assert.equal(adapterSpecs.length, 2 * layers.length);
  });

  it("reaches the middle block's layers (model.mid_block) like the levels' own", () => {
    const mid = { ...model, mid_block: true };
    const midSpecs = modelParamSpecs(mid, vocab);
    const picked = (target: LoraTarget): string[] => loraLayers(midSpecs, { rank: 2, targets: [target] }, mid).filter((l) => l.startsWith("mid."));
    assert.deepEqual(picked("attn_q"), ["mid.0.attn.0.q", "mid.0.cross.0.q"]);
    assert.deepEqual(picked("attn_out"), ["mid.0.attn.0.out", "mid.0.cross.0.out"]);
    assert.deepEqual(picked("text_proj"), ["mid.0.cross.0.k", "mid.0.cross.0.v"]);
    assert.deepEqual(picked("time"), ["mid.0.res.0.time", "mid.0.res.1.time"]);
    assert.deepEqual(picked("conv3x3"), ["mid.0.res.0.conv1", "mid.0.res.0.conv2", "mid.0.res.1.conv1", "mid.0.res.1.conv2"]);
  });

  it("a target that selects no layer of the model is a UsageError naming the key", () => {
    const none = { ...model, conditioning: "none" as const };
    assert.throws(() => loraPlan(modelParamSpecs(none, 0), { rank: 2, targets: ["attn_q", "text_proj"] }, none), (err: Error) => err instanceof UsageError && /train\.adapter\.targets: text_proj selects no layer/.test(err.message));
  });

  it("with B = 0 (peft's init) the adapted network equals the base on tfjs, bit for bit, and on onnxruntime", async () => {
    const adapter = initParams(adapterSpecs, 11);
    assert.ok([...adapter].filter(([n]) => n.endsWith(".lora_b")).every(([, p]) => p.data.every((v) => v === 0)));
    assert.ok([...adapter].filter(([n]) => n.endsWith(".lora_a")).every(([, p]) => p.data.some((v) => v !== 0)));
    const B = 3;
    const R = model.resolution;
    const rng = new Rng(5, "test");
    const x = Float32Array.from(rng.normals(B * R * R * 3));
    const t = Float32Array.of(3, 50, 97);
    const tokens = Int32Array.from({ length: B * model.max_tokens }, (_, i) => i % vocab);
    const cond = Float32Array.of(1, 0, 1);
    const both = new Map([...base, ...adapter]);
    const plain = tfjsNetwork(model, base);
    const adapted = tfjsNetwork(model, both, plan);
    const y0 = await plain.run(x, t, { tokens }, cond);
    const y1 = await adapted.run(x, t, { tokens }, cond);
    plain.dispose();
    adapted.dispose();
    assert.deepEqual(y1, y0);
    const onnx = await onnxNetworkFromParams(model, both, { threads: 1 }, plan);
    const y2 = await onnx.run(x, t, { tokens }, cond);
    onnx.dispose();
    assert.ok(relError(y2, y0) < 1e-5, `onnx ${relError(y2, y0)}`);
  });

  it("a trained adapter merged into the weights gives the unmerged network's output (tfjs and onnx)", async () => {
    const adapter = initParams(adapterSpecs, 11);
    const rng = new Rng(9, "b");
    for (const [n, p] of adapter) if (n.endsWith(".lora_b")) p.data.set(rng.normals(p.data.length).map((v) => 0.3 * v));
    const both = new Map([...base, ...adapter]);
    const merged = mergeLora(both, plan);
    assert.equal(merged.size, base.size);
    const B = 2;
    const R = model.resolution;
    const x = Float32Array.from(new Rng(5, "x").normals(B * R * R * 3));
    const t = Float32Array.of(10, 80);
    const tokens = Int32Array.from({ length: B * model.max_tokens }, (_, i) => (3 * i) % vocab);
    const cond = Float32Array.of(1, 1);
    const unmerged = tfjsNetwork(model, both, plan);
    const folded = tfjsNetwork(model, merged);
    const yu = await unmerged.run(x, t, { tokens }, cond);
    const ym = await folded.run(x, t, { tokens }, cond);
    unmerged.dispose();
    folded.dispose();
    const yb = await (async () => {
      const s = tfjsNetwork(model, base);
      const y = await s.run(x, t, { tokens }, cond);
      s.dispose();
      return y;
    })();
    assert.ok(relError(yu, yb) > 1e-2, "the adapter changes the output");
    assert.ok(relError(ym, yu) < 1e-5, `merged vs unmerged (tfjs): ${relError(ym, yu)}`);
    const built = buildModelOnnx(model, merged);
    const session = await ort.InferenceSession.create(built.bytes, { intraOpNumThreads: 1 });
    const out = await session.run({
      x: new ort.Tensor("float32", x, [B, R, R, 3]),
      t: new ort.Tensor("float32", t, [B]),
      cond: new ort.Tensor("float32", cond, [B]),
      tokens: new ort.Tensor("int32", tokens, [B, model.max_tokens]),
    });
    await session.release();
    assert.ok(relError(out.out.data as Float32Array, yu) < 1e-5, "merged ONNX model vs unmerged tfjs");
  });

  it("the LoRA training graph differentiates only the adapter; ∂L/∂B = s·Aᵀ·∂L/∂W of the full graph", async () => {
    const schedule = makeSchedule(config.diffusion);
    const objective = objectiveConfig(schedule, config.diffusion);
    const batch = 2;
    const adapter = initParams(adapterSpecs, 11);
    const lora = buildTrainingGraph({ model, params: adapterSpecs.map((s) => ({ name: s.name, shape: s.shape })), batch, objective, frozen: base, lora: plan });
    const full = buildTrainingGraph({ model, params: specs.map((s) => ({ name: s.name, shape: s.shape })), batch, objective });
    assert.deepEqual([...lora.withGradient].sort(), adapterSpecs.map((s) => s.name).sort(), "gradients for exactly the adapter parameters");

    const loraSession = await ort.InferenceSession.create(lora.bytes, { intraOpNumThreads: 1 });
    const fullSession = await ort.InferenceSession.create(full.bytes, { intraOpNumThreads: 1 });
    const R = model.resolution;
    const rng = new Rng(3, "feeds");
    const data: Record<string, ort.Tensor> = {
      x_t: new ort.Tensor("float32", Float32Array.from(rng.normals(batch * R * R * 3)), [batch, R, R, 3]),
      t: new ort.Tensor("float32", Float32Array.of(12, 70), [batch]),
      cond: new ort.Tensor("float32", Float32Array.of(1, 0), [batch]),
      tokens: new ort.Tensor("int32", Int32Array.from({ length: batch * model.max_tokens }, (_, i) => (i * 7) % vocab), [batch, model.max_tokens]),
      target: new ort.Tensor("float32", Float32Array.from(rng.normals(batch * R * R * 3)), [batch, R, R, 3]),
      loss_weight: new ort.Tensor("float32", Float32Array.of(1, 1), [batch]),
    };
    const feeds = (session: ort.InferenceSession, p: ParamMap): Record<string, ort.Tensor> => {
      const out: Record<string, ort.Tensor> = {};
      for (const n of session.inputNames) {
        const q = p.get(n);
        out[n] = q ? new ort.Tensor("float32", q.data, q.shape) : (data[n] as ort.Tensor);
      }
      return out;
    };
    assert.ok(loraSession.inputNames.every((n) => !base.has(n)), "the frozen base is not a graph input");
    const lo = await loraSession.run(feeds(loraSession, adapter));
    const fo = await fullSession.run(feeds(fullSession, base));
    await loraSession.release();
    await fullSession.release();
    assert.equal(lo.loss.data[0], fo.loss.data[0], "same loss at B = 0");
    const s = plan.scale;
    for (const layer of ["down.1.attn.0.q", "conv_in", "text.layer.0.mlp.0", "time.mlp.1"]) {
      const a = adapter.get(`${layer}.lora_a`) as { shape: number[]; data: Float32Array };
      const gw = fo[`grad:${layer}.weight`].data as Float32Array;
      const gb = lo[`grad:${layer}.lora_b`].data as Float32Array;
      const ga = lo[`grad:${layer}.lora_a`].data as Float32Array;
      const r = a.shape[a.shape.length - 1];
      const outDim = gw.length / (a.data.length / r);
      const rows = a.data.length / r;
      const expected = new Float64Array(r * outDim);
      for (let i = 0; i < rows; i++) for (let k = 0; k < r; k++) for (let o = 0; o < outDim; o++) expected[k * outDim + o] += s * a.data[i * r + k] * gw[i * outDim + o];
      assert.ok(relError(gb, expected) < 1e-4, `${layer}: ∂L/∂B vs s·Aᵀ·∂L/∂W: ${relError(gb, expected)}`);
      assert.ok(ga.every((v) => v === 0), `${layer}: ∂L/∂A = s·∂L/∂W·Bᵀ = 0 at B = 0`);
    }
  });

  it("no gradient work for the frozen base: no embedding scatter-add, weight-gradient products for the adapter only", () => {
    const schedule = makeSchedule(config.diffusion);
    const objective = objectiveConfig(schedule, config.diffusion);
    const nodes = (bytes: Uint8Array) => fromBinary(ModelProtoSchema, bytes).graph?.node ?? [];
    const count = (bytes: Uint8Array, op: string): number => nodes(bytes).filter((n) => n.opType === op).length;
    // X^T·G products: the weight gradients of linears and of each conv tap
    const weightGrads = (bytes: Uint8Array): number => nodes(bytes).filter((n) => n.opType === "Gemm" && n.attribute.some((a) => a.name === "transA" && a.i === 1n)).length;
    const lora = buildTrainingGraph({ model, params: adapterSpecs.map((s) => ({ name: s.name, shape: s.shape })), batch: 2, objective, frozen: base, lora: plan });
    const full = buildTrainingGraph({ model, params: specs.map((s) => ({ name: s.name, shape: s.shape })), batch: 2, objective });
    assert.equal(count(full.bytes, "OneHot"), 1, "the full graph differentiates the token embedding");
    assert.equal(count(lora.bytes, "OneHot"), 0, "the LoRA graph does not");
    // weight gradients: one Xᵀ·G per linear weight and 9 per 3×3 conv weight in the full graph;
    // in the LoRA graph one per adapter matrix that needs it (A of a 3×3 conv: 9; B: 1, A of a linear: 1)
    const expected = adapterSpecs.reduce((sum, p) => sum + (p.shape.length === 4 ? (p.shape[0] as number) * (p.shape[1] as number) : 1), 0);
    assert.equal(weightGrads(lora.bytes), expected, "weight-gradient products in the LoRA graph: the adapter's only");
    // the same count on the full graph: every weight matrix of the model, plus the embedding's one-hot product
    const fullExpected = specs.filter((p) => p.name.endsWith(".weight")).reduce((sum, p) => sum + (p.shape.length === 4 ? (p.shape[0] as number) * (p.shape[1] as number) : 1), 0) + 1;
    assert.equal(weightGrads(full.bytes), fullExpected, "the counter counts weight gradients");
  });
});
