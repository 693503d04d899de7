import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { edgeF1, luma, sketchFidelity, sobelMagnitude } from "../../src/eval/edges.js";
import type { Image } from "../../src/engine/image.js";

const here = path.dirname(fileURLToPath(import.meta.url));

interface Case {
  width: number;
  height: number;
  rgb: number[];
  sketch: number[];
  gradient_threshold: number;
  sketch_threshold: number;
  tolerance: number;
  magnitude: number[];
  precision: number;
  recall: number;
  f1: number;
}

const fixture = JSON.parse(fs.readFileSync(path.join(here, "fixtures", "edge-f1.json"), "utf8")) as { cases: Case[] };

test("Sobel magnitude and edge F1 match scipy.ndimage (fixture from make_edge_f1.py)", () => {
  for (const [k, c] of fixture.cases.entries()) {
    const img: Image = { width: c.width, height: c.height, channels: 3, data: Uint8Array.from(c.rgb) };
    const sketch: Image = { width: c.width, height: c.height, channels: 1, data: Uint8Array.from(c.sketch) };
    const mag = sobelMagnitude(luma(img), c.width, c.height);
    for (let i = 0; i < mag.length; i++) assert.ok(Math.abs(mag[i] - c.magnitude[i]) < 1e-12, `case ${k} pixel ${i}: ${mag[i]} vs ${c.magnitude[i]}`);
    const s = sketchFidelity(img, sketch, { tolerance: c.tolerance, gradientThreshold: c.gradient_threshold, sketchThreshold: c.sketch_threshold });
    assert.ok(Math.abs(s.precision - c.precision) < 1e-12, `case ${k} precision ${s.precision} vs ${c.precision}`);
    assert.ok(Math.abs(s.recall - c.recall) < 1e-12, `case ${k} recall`);
    assert.ok(Math.abs(s.f1 - c.f1) < 1e-12, `case ${k} f1`);
  }
});

test("edge F1 by hand: a one-pixel shift is forgiven at tolerance 1, not at 0", () => {
  const w = 6, h = 6;
  const truth = new Uint8Array(w * h), pred = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    truth[y * w + 2] = 1; // column 2
    pred[y * w + 3] = 1; // column 3
  }
  assert.deepEqual(edgeF1(pred, truth, w, h, 1), { precision: 1, recall: 1, f1: 1 });
  assert.deepEqual(edgeF1(pred, truth, w, h, 0), { precision: 0, recall: 0, f1: 0 });
  // half the predicted pixels are spurious (column 5 is 3 px away): P = 1/2, R = 1, F1 = 2/3
  for (let y = 0; y < h; y++) pred[y * w + 5] = 1;
  const s = edgeF1(pred, truth, w, h, 1);
  assert.equal(s.precision, 0.5);
  assert.equal(s.recall, 1);
  assert.ok(Math.abs(s.f1 - 2 / 3) < 1e-15);
  // empty maps
  const empty = new Uint8Array(w * h);
  assert.deepEqual(edgeF1(empty, empty, w, h, 1), { precision: 1, recall: 1, f1: 1 });
  assert.equal(edgeF1(empty, truth, w, h, 1).f1, 0);
  assert.equal(edgeF1(pred, empty, w, h, 1).f1, 0);
});
