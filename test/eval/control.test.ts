import { test } from "node:test";
import assert from "node:assert/strict";
import { canPredictAttributes, chanceRates, sketchControl, textControl, type AttributePredictor } from "../../src/eval/control.js";
import { createImage, type Image } from "../../src/engine/image.js";
import type { FeatureExtractor } from "../../src/metrics/extractor.js";

/** A test predictor: reads the attributes back from a lookup keyed by the image's first pixel. */
function predictor(table: Record<number, Record<string, string | number>>, attributes: string[]): AttributePredictor {
  return { attributes, predictAttributes: async (images: Image[]) => images.map((img) => table[img.data[0]] ?? {}) };
}

function tagged(v: number): Image {
  const img = createImage(2, 2, 3);
  img.data[0] = v;
  return img;
}

test("text control: success needs every compared attribute right; per-attribute accuracy; the classifier's rate on real images", async () => {
  const wanted = [
    { style: "op-art", shape: "circle", count: 2, extra: "x" },
    { style: "mosaic", shape: "star", count: 3, extra: "y" },
    { style: "wave", shape: "square", count: 1, extra: "z" },
    { style: "wave", shape: "circle", count: 4, extra: "w" },
  ];
  const p = predictor(
    {
      // generated: 0 all right, 1 shape wrong, 2 all right (count as a string still equals 1), 3 style wrong
      0: { style: "op-art", shape: "circle", count: 2 },
      1: { style: "mosaic", shape: "circle", count: 3 },
      2: { style: "wave", shape: "square", count: "1" },
      3: { style: "mosaic", shape: "circle", count: 4 },
      // real: 10, 11 right; 12 wrong
      10: { style: "op-art", shape: "circle", count: 2 },
      11: { style: "mosaic", shape: "star", count: 3 },
      12: { style: "op-art", shape: "square", count: 1 },
    },
    ["style", "shape", "count", "domain"],
  );
  const s = await textControl(p, [0, 1, 2, 3].map(tagged), wanted, [10, 11, 12].map(tagged), wanted.slice(0, 3));
  assert.ok(s);
  // "domain" is not a pair attribute and "extra" is not predicted: neither is compared
  assert.deepEqual(s.attributes, ["count", "shape", "style"]);
  assert.equal(s.success_rate, 2 / 4);
  assert.deepEqual(s.attribute_accuracy, { count: 1, shape: 3 / 4, style: 3 / 4 });
  assert.equal(s.real_success_rate, 2 / 3);
  // the classifier on the real images per attribute: 12 gets style wrong
  assert.deepEqual(s.real_attribute_accuracy, { count: 1, shape: 1, style: 2 / 3 });
  // chance over the 6 ordered pairs of the 3 held-out pairs: no two share a count, shape or style
  assert.deepEqual(s.chance_attribute_accuracy, { count: 0, shape: 0, style: 0 });
  assert.equal(s.chance_success_rate, 0);
  assert.equal(s.success_vs_real, (2 / 4) / (2 / 3));
  assert.equal(s.n, 4);
  assert.equal(s.n_real, 3);
  // by the value asked for: every count right once; the star asked once and missed (drawn as a circle)
  assert.deepEqual(s.by_value?.count, { "1": { n: 1, hits: 1 }, "2": { n: 1, hits: 1 }, "3": { n: 1, hits: 1 }, "4": { n: 1, hits: 1 } });
  assert.deepEqual(s.by_value?.shape, { circle: { n: 2, hits: 2 }, star: { n: 1, hits: 0 }, square: { n: 1, hits: 1 } });
  assert.deepEqual(s.by_value?.style, { "op-art": { n: 1, hits: 1 }, mosaic: { n: 1, hits: 1 }, wave: { n: 2, hits: 1 } });
  // on the real images the classifier misses real 12's wave (read as op-art)
  assert.deepEqual(s.real_by_value?.style, { "op-art": { n: 1, hits: 1 }, mosaic: { n: 1, hits: 1 }, wave: { n: 1, hits: 0 } });
  // nothing in common: no score
  assert.equal(await textControl(predictor({}, ["domain"]), [tagged(0)], [wanted[0]], [tagged(10)], [wanted[0]]), null);
});

test("canPredictAttributes tells predictors from plain extractors", () => {
  const plain: FeatureExtractor = { name: "x", dims: 2, describe: () => "x", extract: async (i) => i.map(() => new Float64Array(2)) };
  assert.equal(canPredictAttributes(plain), false);
  assert.equal(canPredictAttributes({ ...plain, ...predictor({}, ["style"]) }), true);
});

/** A 12×12 white image with a dark vertical bar at column `x` (RGB) or its sketch (grey). */
function bar(x: number, channels: 1 | 3): Image {
  const img = createImage(12, 12, channels);
  img.data.fill(255);
  for (let y = 0; y < 12; y++) for (let k = 0; k < channels; k++) img.data[(y * 12 + x) * channels + k] = 0;
  return img;
}

test("sketch fidelity: generated edges on the sketch score 1, far from it 0; reference and chance levels from the real pairs", () => {
  const sketches = [bar(3, 1), bar(8, 1)];
  const real = [bar(3, 3), bar(8, 3)];
  // generated 0 follows its sketch (bar at 3), generated 1 draws at 3 while its sketch is at 8
  const s = sketchControl([bar(3, 3), bar(3, 3)], sketches, real, sketches);
  // a dark bar at column c gives Sobel edges at columns c−1 and c+1 (magnitude 255/255·(1+2+1)/4 = 1), the
  // stroke is column c itself: within 1 px both ways → F1 = 1; 5 columns away → 0
  assert.equal(s.f1, 0.5);
  assert.equal(s.precision, 0.5);
  assert.equal(s.recall, 0.5);
  assert.equal(s.real_f1, 1);
  assert.equal(s.chance_f1, 0);
  assert.equal(s.tolerance_px, 1);
  assert.equal(s.n, 2);
});

test("chance agreement: fraction of ordered pairs i ≠ j with the same value, hand-worked", () => {
  const pairs = [
    { style: "wave", shape: "circle" },
    { style: "wave", shape: "star" },
    { style: "mosaic", shape: "circle" },
    { style: "wave", shape: "circle" },
  ];
  const c = chanceRates(pairs, ["shape", "style"]);
  // style: the three "wave" pairs agree in 3·2 = 6 of the 12 ordered pairs; shape: three "circle" → 6/12;
  // both at once: pairs 0 and 3 only → 2/12
  assert.deepEqual(c.per, { shape: 6 / 12, style: 6 / 12 });
  assert.equal(c.all, 2 / 12);
  assert.deepEqual(chanceRates([pairs[0]], ["style"]), { all: null, per: { style: null } });
});
