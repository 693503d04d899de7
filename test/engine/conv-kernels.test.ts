/**
 * diffx's Conv2DBackpropFilter / Conv2DBackpropInput kernels for wasm (and the filter kernel for
 * cpu) against gradients recorded from PyTorch (test/fixtures/engine/make_conv_grads.py), and
 * against the stock kernels of tfjs's cpu backend.
 */
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { initBackend, type BackendReport } from "../../src/engine/backend.js";
import { conv2dBackpropInputKernel } from "../../src/engine/kernels/conv2d-backprop-input.js";
import { registerEngineKernels, restoreStockKernels } from "../../src/engine/kernels/register.js";
import { convCases, explicitPad, keywordPad, relativeError, seededValues, type ConvCase } from "./helpers.js";

const TOLERANCE = 1e-4;
let wasm: BackendReport;

before(async () => {
  // 2 threads even on a busy machine ("auto" would pick 1): the threaded path is the harder one.
  wasm = await initBackend("wasm", { threads: 2 });
});

/** y, dx, dfilter of loss = Σ y·dy through tfjs's own conv2d gradient (the path training uses). */
function gradients(c: ConvCase, pad: "same" | "valid" | ReturnType<typeof explicitPad>): { y: Float32Array; dx: Float32Array; dfilter: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(c.x, c.xShape);
    const w = tf.tensor4d(c.filter, c.filterShape);
    const dy = tf.tensor4d(c.dy, c.yShape);
    const y = tf.conv2d(x, w, c.stride, pad);
    const [dx, dfilter] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, pad), dy)))([x, w]);
    return { y: y.dataSync() as Float32Array, dx: dx!.dataSync() as Float32Array, dfilter: dfilter!.dataSync() as Float32Array };
  });
}

test("wasm is running with our conv backprop kernels", () => {
  assert.equal(tf.getBackend(), "wasm");
  assert.ok(wasm.kernels?.includes("Conv2DBackpropFilter"));
  assert.ok(wasm.kernels?.includes("Conv2DBackpropInput"));
  assert.ok(wasm.threads === 2 || wasm.warnings.some((w) => /1 thread/.test(w)), JSON.stringify(wasm));
});

for (const c of convCases()) {
  test(`wasm conv gradients match PyTorch: ${c.name} (x ${c.xShape.join("×")}, stride ${c.stride}, pad ${c.pad.join(",")})`, () => {
    const before = tf.memory().numTensors;
    const got = gradients(c, explicitPad(c.pad));
    assert.equal(tf.memory().numTensors, before, "no tensor leaked");
    assert.ok(relativeError(got.y, c.y) <= TOLERANCE, `forward off by ${relativeError(got.y, c.y)}`);
    assert.ok(relativeError(got.dx, c.dx) <= TOLERANCE, `dx off by ${relativeError(got.dx, c.dx)}`);
    assert.ok(relativeError(got.dfilter, c.dfilter) <= TOLERANCE, `dfilter off by ${relativeError(got.dfilter, c.dfilter)}`);
    const keyword = keywordPad(c);
    if (keyword !== null) {
      const viaKeyword = gradients(c, keyword);
      assert.ok(relativeError(viaKeyword.dx, c.dx) <= TOLERANCE, `dx with pad '${keyword}' off by ${relativeError(viaKeyword.dx, c.dx)}`);
      assert.ok(relativeError(viaKeyword.dfilter, c.dfilter) <= TOLERANCE, `dfilter with pad '${keyword}' off`);
    }
  });
}

test("the fixture covers stride 2, batch > 1, 1×1 and 3×3, and both keyword paddings", () => {
  const cases = convCases();
  assert.ok(cases.length >= 8);
  assert.ok(cases.some((c) => c.stride === 2 && c.xShape[0] > 1 && c.filterShape[0] === 3));
  assert.ok(cases.some((c) => c.filterShape[0] === 1 && c.stride === 1));
  assert.ok(cases.some((c) => c.filterShape[0] === 1 && c.stride === 2));
  assert.ok(cases.some((c) => keywordPad(c) === "same" && c.stride === 2));
  assert.ok(cases.some((c) => keywordPad(c) === "valid" && c.filterShape[0] === 3));
});

// Larger shapes than the fixture, shaped like the UNet's layers; compared with the stock cpu kernels.
const PARITY_SHAPES: { x: [number, number, number, number]; f: [number, number, number, number]; stride: number; pad: "same" | "valid" | [number, number, number, number] }[] = [
  { x: [4, 16, 16, 16], f: [3, 3, 16, 24], stride: 1, pad: "same" },
  { x: [4, 16, 16, 16], f: [3, 3, 16, 32], stride: 2, pad: "same" },
  { x: [3, 15, 13, 8], f: [3, 3, 8, 8], stride: 2, pad: [1, 1, 1, 1] },
  { x: [4, 8, 8, 32], f: [1, 1, 32, 16], stride: 1, pad: "valid" },
  { x: [3, 8, 8, 8], f: [1, 1, 8, 24], stride: 1, pad: "same" },
  { x: [2, 12, 12, 8], f: [3, 3, 8, 4], stride: 2, pad: "valid" },
  // Less common geometry the general code paths must still get right.
  { x: [2, 11, 10, 4], f: [3, 3, 4, 5], stride: 3, pad: "same" },
  { x: [2, 9, 9, 3], f: [2, 2, 3, 4], stride: 2, pad: "valid" },
  { x: [1, 7, 6, 2], f: [5, 5, 2, 3], stride: 2, pad: [4, 0, 1, 3] },
  { x: [2, 5, 5, 3], f: [3, 3, 3, 2], stride: 1, pad: [3, 0, 0, 3] },
];

/** Our input-gradient kernel run directly on `backend` (it is registered for wasm only). */
function oursInputGradOn(backend: string, p: (typeof PARITY_SHAPES)[number]): Promise<Float32Array> {
  return tf.setBackend(backend).then(() =>
    tf.tidy(() => {
      const pad = Array.isArray(p.pad) ? explicitPad(p.pad) : p.pad;
      const w = tf.tensor4d(seededValues(p.f.reduce((a, b) => a * b), 2), p.f);
      const yShape = tf.conv2d(tf.zeros(p.x) as tf.Tensor4D, w, p.stride, pad).shape;
      const dy = tf.tensor4d(seededValues(yShape.reduce((a, b) => a * b), 3), yShape);
      const attrs = { strides: [p.stride, p.stride], pad, dataFormat: "NHWC", inputShape: p.x } as unknown as tf.NamedAttrMap;
      const info = conv2dBackpropInputKernel(backend)({ inputs: { dy, filter: w }, backend: tf.backend(), attrs }) as tf.TensorInfo;
      return tf.engine().makeTensorFromTensorInfo(info).dataSync() as Float32Array;
    }),
  );
}

async function backpropOn(backend: string, p: (typeof PARITY_SHAPES)[number]): Promise<{ dfilter: Float32Array; dx: Float32Array }> {
  await tf.setBackend(backend);
  const pad = Array.isArray(p.pad) ? explicitPad(p.pad) : p.pad;
  return tf.tidy(() => {
    const x = tf.tensor4d(seededValues(p.x.reduce((a, b) => a * b), 1), p.x);
    const w = tf.tensor4d(seededValues(p.f.reduce((a, b) => a * b), 2), p.f);
    const yShape = tf.conv2d(x, w, p.stride, pad).shape;
    const dy = tf.tensor4d(seededValues(yShape.reduce((a, b) => a * b), 3), yShape);
    const common = { strides: [p.stride, p.stride], pad, dataFormat: "NHWC" } as unknown as tf.NamedAttrMap;
    const dfilter = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...common, filterShape: p.f }) as tf.Tensor;
    const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { ...common, inputShape: p.x }) as tf.Tensor;
    return { dfilter: dfilter.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

for (const p of PARITY_SHAPES) {
  const label = `x ${p.x.join("×")}, filter ${p.f.join("×")}, stride ${p.stride}, pad ${JSON.stringify(p.pad)}`;
  test(`our kernels (wasm; filter and input on cpu) agree with tfjs's stock cpu kernels: ${label}`, async () => {
    restoreStockKernels("cpu");
    const stock = await backpropOn("cpu", p);
    registerEngineKernels("cpu");
    const oursCpu = await backpropOn("cpu", p);
    const oursWasm = await backpropOn("wasm", p);
    const oursCpuInput = await oursInputGradOn("cpu", p);
    assert.ok(relativeError(oursWasm.dfilter, stock.dfilter) <= 1e-5, `wasm dfilter off by ${relativeError(oursWasm.dfilter, stock.dfilter)}`);
    assert.ok(relativeError(oursWasm.dx, stock.dx) <= 1e-5, `wasm dx off by ${relativeError(oursWasm.dx, stock.dx)}`);
    assert.ok(relativeError(oursCpu.dfilter, stock.dfilter) <= 1e-5, `cpu dfilter off by ${relativeError(oursCpu.dfilter, stock.dfilter)}`);
    assert.ok(relativeError(oursCpuInput, stock.dx) <= 1e-5, `our input kernel on cpu off by ${relativeError(oursCpuInput, stock.dx)}`);
    restoreStockKernels("cpu");
  });
}
