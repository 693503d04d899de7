/**
 * The recorded graph itself: symbolic shapes, layout (no transposes inside conv/norm chains),
 * initializer names and OIHW weight layout, model header (IR 8, opset 17, "batch" dims), and
 * the error messages for shape mistakes in network code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema, TensorProto_DataType, type ModelProto, type ValueInfoProto } from "onnx-buf";
import { buildOnnxModel, type ExportInput, type TracedForward } from "../../src/export/onnx-export.js";
import { OnnxOps, permute, type ParamTensor } from "../../src/nn/onnx-ops.js";
import type { Ops } from "../../src/nn/ops.js";
import { RuntimeFailure } from "../../src/errors.js";
import { randn, relError, size, traceAndRun } from "./helpers.js";

function paramsOf(shapes: Record<string, number[]>): Map<string, ParamTensor> {
  return new Map(Object.entries(shapes).map(([k, s]) => [k, { shape: s, data: randn(size(s), k) }]));
}

function dimsOf(v: ValueInfoProto | undefined): (string | number | null)[] {
  const t = v?.type?.value;
  assert.ok(t && t.case === "tensorType");
  return (t.value.shape?.dim ?? []).map((d) => (d.value.case === "dimValue" ? Number(d.value.value) : d.value.case === "dimParam" ? d.value.value : null));
}

function decode(forward: TracedForward, params: Map<string, ParamTensor>, inputs: ExportInput[]): ModelProto {
  return fromBinary(ModelProtoSchema, buildOnnxModel(forward, params, inputs).bytes);
}

test("shape(): the batch is -1; reshape 0/-1 inference; folding the batch into rows and back", () => {
  const ops = new OnnxOps(new Map());
  const x = ops.input("x", "float32", ["batch", 4, 6, 8]);
  assert.deepEqual(ops.shape(x), [-1, 4, 6, 8]);
  const tokens = ops.reshape(x, [0, -1, 8]);
  assert.deepEqual(ops.shape(tokens), [-1, 24, 8]);
  const rows = ops.reshape(tokens, [-1, 8]);
  assert.deepEqual(ops.shape(rows), [-1, 8]);
  const back = ops.reshape(rows, [-1, 4, 6, 8]);
  assert.deepEqual(ops.shape(back), [-1, 4, 6, 8]);
  assert.deepEqual(back.dims[0], { coef: 1, batch: true }, "the inferred dim is the batch itself again");
  assert.deepEqual(rows.dims[0], { coef: 24, batch: true });
  assert.deepEqual(ops.shape(ops.transpose(x, [0, 3, 1, 2])), [-1, 8, 4, 6]);
  assert.deepEqual(ops.shape(ops.mean(x, [1, 2], false)), [-1, 8]);
  assert.deepEqual(ops.shape(ops.upsample2x(x)), [-1, 8, 12, 8]);
  assert.deepEqual(ops.shape(ops.concat([x, x], -1)), [-1, 4, 6, 16]);
  const t = ops.input("t", "float32", ["batch"]);
  assert.deepEqual(ops.shape(ops.reshape(t, [0, 1, 1, 1])), [-1, 1, 1, 1]);
});

test("shape mistakes in network code fail at trace time with the shapes in the message", () => {
  const ops = new OnnxOps(new Map([["w", { shape: [3, 3, 5, 2], data: new Float32Array(90) }]]));
  const x = ops.input("x", "float32", ["batch", 4, 4, 3]);
  const y = ops.input("y", "float32", ["batch", 4, 4, 2]);
  assert.throws(() => ops.add(x, y), (e: unknown) => e instanceof RuntimeFailure && /Add: shapes \[batch, 4, 4, 3\] and \[batch, 4, 4, 2\] do not broadcast/.test(e.message));
  assert.throws(() => ops.reshape(x, [0, 5, -1]), /reshape \[batch, 4, 4, 3\] to \[0, 5, -1\]: the -1 cannot be inferred/);
  assert.throws(() => ops.reshape(x, [0, 4, 4, 4]), /element counts differ/);
  assert.throws(() => ops.conv2d(x, ops.param("w"), null, 1, [1, 1, 1, 1]), /conv2d input has 3 channels, weight expects 5/);
  assert.throws(() => ops.groupNorm(x, 2, ops.constant(new Float32Array(3), [3]), ops.constant(new Float32Array(3), [3]), 1e-5), /3 channels do not split into 2 groups/);
  assert.throws(() => ops.param("missing.weight"), /parameter "missing.weight" is not in the parameter map/);
  assert.throws(() => ops.concat([x, y], 1), /concat along axis 1/);
});

test("conv → groupNorm → SiLU → conv → + bias stays NCHW: only the input and output transposes", () => {
  const params = paramsOf({ w1: [3, 3, 3, 8], b1: [8], g: [8], beta: [8], w2: [3, 3, 8, 8], bias: [8] });
  const forward: TracedForward = (ops, v) => {
    const h = ops.silu(ops.groupNorm(ops.conv2d(v.x!, ops.param("w1"), ops.param("b1"), 1, [1, 1, 1, 1]), 4, ops.param("g"), ops.param("beta"), 1e-5));
    return ops.add(ops.conv2d(h, ops.param("w2"), null, 1, [1, 1, 1, 1]), ops.param("bias"));
  };
  const built = buildOnnxModel(forward, params, [{ name: "x", dtype: "float32", shape: ["batch", 8, 8, 3] }]);
  // 2 for the image (in, out) + 1 per per-channel vector broadcast into NCHW (g, beta, bias),
  // which onnxruntime folds into constants.
  assert.equal(built.opCounts.Transpose, 5);
  assert.equal(built.opCounts.Conv, 2);
});

test("initializers: named as the parameters, conv weights permuted HWIO → OIHW, unused ones left out", () => {
  const params = paramsOf({ "conv.weight": [3, 2, 4, 5], "conv.bias": [5], "shared.weight": [1, 1, 5, 5], unused: [7] });
  const forward: TracedForward = (ops, v) => {
    const h = ops.conv2d(v.x!, ops.param("conv.weight"), ops.param("conv.bias"), 1, [1, 1, 0, 1]);
    // shared.weight is used as a conv weight and as a plain tensor: both forms are written.
    const w = ops.param("shared.weight");
    const g = ops.conv2d(h, w, null, 1, [0, 0, 0, 0]);
    return ops.add(g, ops.mean(ops.reshape(w, [5, 5]), [0], false));
  };
  const model = decode(forward, params, [{ name: "x", dtype: "float32", shape: ["batch", 6, 6, 4] }]);
  const inits = new Map(model.graph!.initializer.map((t) => [t.name, t]));
  assert.ok(inits.has("conv.weight") && inits.has("conv.bias") && inits.has("shared.weight") && inits.has("shared.weight.hwio"));
  assert.ok(!inits.has("unused"));
  const w = inits.get("conv.weight")!;
  assert.deepEqual(w.dims.map(Number), [5, 4, 3, 2]);
  assert.equal(w.dataType, TensorProto_DataType.FLOAT);
  const data = new Float32Array(w.rawData.slice().buffer);
  const src = params.get("conv.weight")!.data;
  // OIHW[o][i][h][w] = HWIO[h][w][i][o], by index arithmetic.
  for (const [o, i, h, ww] of [[0, 0, 0, 0], [4, 3, 2, 1], [2, 1, 0, 1], [3, 0, 2, 0]] as const) {
    assert.equal(data[((o * 4 + i) * 3 + h) * 2 + ww], src[((h * 2 + ww) * 4 + i) * 5 + o]);
  }
  assert.deepEqual(inits.get("shared.weight.hwio")!.dims.map(Number), [1, 1, 5, 5]);
});

test("model header: IR 8, opset 17, symbolic 'batch' on inputs and output, diffx metadata", () => {
  const params = paramsOf({ table: [9, 4] });
  const model = decode((ops, v) => ops.add(ops.gather(ops.param("table"), v.ids!), ops.reshape(v.t!, [0, 1, 1])), params, [
    { name: "ids", dtype: "int32", shape: ["batch", 3] },
    { name: "t", dtype: "float32", shape: ["batch"] },
  ]);
  assert.equal(model.irVersion, 8n);
  assert.deepEqual(model.opsetImport.map((o) => [o.domain, Number(o.version)]), [["", 17]]);
  assert.equal(model.producerName, "diffx");
  assert.ok(model.metadataProps.some((p) => p.key === "diffx_version"));
  const g = model.graph!;
  assert.deepEqual(g.input.map((i) => i.name), ["ids", "t"]);
  assert.deepEqual(dimsOf(g.input[0]), ["batch", 3]);
  assert.deepEqual(dimsOf(g.input[1]), ["batch"]);
  assert.deepEqual(g.output.map((o) => o.name), ["out"]);
  assert.deepEqual(dimsOf(g.output[0]), ["batch", 3, 4]);
});

test("an output whose first axis is batch × k is declared with an unnamed dimension, and runs", async () => {
  const params = paramsOf({ w: [4, 2] });
  const forward: TracedForward = (ops, v) => ops.matMul(ops.reshape(v.x!, [-1, 4]), ops.param("w"));
  const inputs: ExportInput[] = [{ name: "x", dtype: "float32", shape: ["batch", 3, 4] }];
  const model = decode(forward, params, inputs);
  assert.deepEqual(dimsOf(model.graph!.output[0]), [null, 2]);
  const [out] = await traceAndRun(forward, params, inputs, [{ x: { data: randn(2 * 12, "x"), shape: [2, 3, 4] } }]);
  assert.deepEqual(out!.shape, [6, 2]);
});

test("tracing is deterministic: the same forward and parameters give the same bytes", () => {
  const params = paramsOf({ w: [3, 3, 2, 2], g: [2], b: [2] });
  const forward: TracedForward = (ops, v) => ops.groupNorm(ops.conv2d(v.x!, ops.param("w"), null, 2, [0, 1, 0, 1]), 2, ops.param("g"), ops.param("b"), 1e-5);
  const inputs: ExportInput[] = [{ name: "x", dtype: "float32", shape: ["batch", 5, 5, 2] }];
  assert.deepEqual(buildOnnxModel(forward, params, inputs).bytes, buildOnnxModel(forward, params, inputs).bytes);
});

test("permute(): row-major transpose by hand", () => {
  // [2, 3] → [3, 2]
  const { data, shape } = permute(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]);
  assert.deepEqual(shape, [3, 2]);
  assert.deepEqual([...data], [1, 4, 2, 5, 3, 6]);
  // [2, 2, 2] with perm [2, 0, 1]: out[k][i][j] = in[i][j][k]
  const r = permute(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), [2, 2, 2], [2, 0, 1]);
  assert.deepEqual([...r.data], [0, 2, 4, 6, 1, 3, 5, 7]);
});

test("a generic forward can check shapes through ops.shape at trace time", async () => {
  const forward = <T>(ops: Ops<T>, v: Record<string, T>): T => {
    const [n, h, w, c] = ops.shape(v.x!);
    assert.equal(n, -1);
    return ops.reshape(ops.mean(ops.reshape(v.x!, [0, h! * w!, c!]), [1], false), [0, c!]);
  };
  const x = randn(3 * 2 * 2 * 3, "x");
  const [out] = await traceAndRun(forward, new Map(), [{ name: "x", dtype: "float32", shape: ["batch", 2, 2, 3] }], [{ x: { data: x, shape: [3, 2, 2, 3] } }]);
  const want = new Float32Array(9);
  for (let b = 0; b < 3; b++) for (let p = 0; p < 4; p++) for (let c = 0; c < 3; c++) want[b * 3 + c] = (want[b * 3 + c] as number) + (x[b * 12 + p * 3 + c] as number) / 4;
  assert.ok(relError(out!.data, want) < 1e-6);
});
