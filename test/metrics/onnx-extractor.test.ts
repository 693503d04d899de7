/**
 * `onnx:PATH` feature extractor on tiny models built with the onnx package, against features
 * computed in numpy (and cross-checked with torch) by test/fixtures/metrics/make_onnx_extractor.py.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Image } from "../../src/engine/image.js";
import { UsageError } from "../../src/errors.js";
import { loadExtractor } from "../../src/metrics/extractor.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = path.join(here, "../fixtures/metrics/onnx");
const rgbModel = path.join(modelDir, "rgb-conv.onnx");
const greyModel = path.join(modelDir, "grey-fixed-batch.onnx");
const fixture = JSON.parse(fs.readFileSync(path.join(here, "../fixtures/metrics/onnx-extractor.json"), "utf8")) as {
  images: { height: number; width: number; rgb: number[] }[];
  rgb_conv: { input_size: number; expected: Record<string, { features: number[][]; mean_rgb: number[][] }> };
  grey_fixed_batch: { input_size: number; normalize: string; out: number[][] };
};
const images: Image[] = fixture.images.map((im) => ({ width: im.width, height: im.height, channels: 3, data: Uint8Array.from(im.rgb) }));

/** Float32 inference vs float64 numpy: agree to 1e-5 absolute + 1e-5 relative. */
function assertClose(got: Float64Array[], expected: number[][], what: string): void {
  assert.equal(got.length, expected.length);
  got.forEach((row, i) => {
    assert.equal(row.length, expected[i].length);
    row.forEach((v, j) => assert.ok(Math.abs(v - expected[i][j]) <= 1e-5 + 1e-5 * Math.abs(expected[i][j]), `${what} image ${i} feature ${j}: ${v} vs ${expected[i][j]}`));
  });
}

for (const normalize of ["[-1,1]", "[0,1]", "imagenet"]) {
  test(`onnx extractor, ${normalize}: features and a second named output match numpy`, async () => {
    const ex = await loadExtractor(`onnx:${rgbModel}`, { normalize, batchSize: 3 });
    assert.equal(ex.dims, 4);
    assert.equal(ex.name, `onnx:${rgbModel}`);
    assertClose(await ex.extract(images), fixture.rgb_conv.expected[normalize].features, "features");
    await ex.release?.();
    const ex2 = await loadExtractor(`onnx:${rgbModel}`, { normalize, outputName: "mean_rgb", inputSize: 8 });
    assert.equal(ex2.dims, 3);
    assertClose(await ex2.extract(images), fixture.rgb_conv.expected[normalize].mean_rgb, "mean_rgb");
    await ex2.release?.();
  });
}

test("onnx extractor: grey model with a fixed batch of 1 (luma conversion, 6×6 resize)", async () => {
  const ex = await loadExtractor(`onnx:${greyModel}`, { normalize: "[0,1]" });
  assert.equal(ex.dims, 4);
  assertClose(await ex.extract(images), fixture.grey_fixed_batch.out, "grey");
  await ex.release?.();
});

test("onnx extractor: describe() states model, output, input size, resize rule and normalisation", async () => {
  const ex = await loadExtractor(`onnx:${rgbModel}`, { normalize: "imagenet" });
  const d = ex.describe();
  for (const part of [rgbModel, "sha256", "output 'features'", "4 features", "3×8×8 NCHW", "half-pixel bilinear", "no antialias", "ImageNet mean/std"]) assert.ok(d.includes(part), `${part} missing from: ${d}`);
  await ex.release?.();
});

const usage = (pattern: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
};

test("onnx extractor errors: bad spec, missing model, bad output, size, normalisation", async () => {
  await assert.rejects(loadExtractor("inception"), usage(/unknown feature extractor 'inception'/));
  await assert.rejects(loadExtractor("onnx:"), usage(/needs a model path/));
  await assert.rejects(loadExtractor("onnx:/nonexistent/m.onnx"), usage(/\/nonexistent\/m\.onnx: ONNX model file not found/));
  await assert.rejects(loadExtractor(`onnx:${path.join(here, "../fixtures/metrics/npy/f32.npy")}`), usage(/f32\.npy: not a loadable ONNX model/));
  await assert.rejects(loadExtractor(`onnx:${rgbModel}`, { outputName: "logits" }), usage(/no output named 'logits' \(outputs: features, mean_rgb\)/));
  await assert.rejects(loadExtractor(`onnx:${rgbModel}`, { inputSize: 16 }), usage(/input is fixed at 8×8 pixels but --input-size is 16/));
  await assert.rejects(loadExtractor(`onnx:${rgbModel}`, { normalize: "[-2,2]" }), usage(/--normalize '\[-2,2\]' is not one of/));
  await assert.rejects(loadExtractor(`onnx:${greyModel}`, { normalize: "imagenet" }), usage(/1-channel images, but 'imagenet' normalisation is per RGB channel/));
});
