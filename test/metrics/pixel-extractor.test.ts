import { test } from "node:test";
import assert from "node:assert/strict";
import { loadExtractor } from "../../src/metrics/extractor.js";
import { createImage } from "../../src/engine/image.js";

test("pixels: a uniform image gives its colour in [-1, 1] in every dimension", async () => {
  const ex = await loadExtractor("pixels");
  assert.equal(ex.dims, 192);
  const img = createImage(5, 7, 3);
  for (let i = 0; i < 35; i++) img.data.set([255, 0, 51], i * 3);
  const [f] = await ex.extract([img]);
  for (let i = 0; i < 64; i++) {
    assert.equal(f[i * 3], 1);
    assert.equal(f[i * 3 + 1], -1);
    assert.ok(Math.abs(f[i * 3 + 2] - (51 / 127.5 - 1)) < 1e-6);
  }
  assert.match(ex.describe(), /8×8.*half-pixel bilinear/);
});

test("pixels: halving a black|white image keeps the edge exactly (half-pixel sample points 2x+0.5)", async () => {
  const ex = await loadExtractor("pixels");
  const img = createImage(16, 16, 1);
  for (let y = 0; y < 16; y++) for (let x = 8; x < 16; x++) img.data[y * 16 + x] = 255;
  const [f] = await ex.extract([img]);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) for (let k = 0; k < 3; k++) assert.equal(f[(y * 8 + x) * 3 + k], x < 4 ? -1 : 1, `(${x}, ${y})`);
});
