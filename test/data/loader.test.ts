/** The loader: pairs → NHWC float arrays in [-1, 1] at the model's resolution, captions as text. */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "../helpers/cli.js";
import { importDataset } from "../../src/data/import.js";
import { loadDataset } from "../../src/data/dataset.js";
import { loadPairArrays } from "../../src/data/loader.js";
import { buildDataset } from "../../src/data/build.js";
import { datasetSchema } from "../../src/config/schema.js";
import { createImage, encodePng, readPng } from "../../src/engine/image.js";

/** 8×8 image whose channel k at (x, y) is (x + 8y) * 3 + k * 50 (mod 256). */
function ramp(): Uint8Array {
  const img = createImage(8, 8, 3);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) for (let k = 0; k < 3; k++) img.data[(y * 8 + x) * 3 + k] = ((x + 8 * y) * 3 + k * 50) % 256;
  return encodePng(img);
}

test("area downsampling to the model resolution, values in [-1, 1], NHWC", async () => {
  const root = tempDir();
  const src = path.join(root, "src");
  fs.mkdirSync(path.join(src, "sketches"), { recursive: true });
  fs.mkdirSync(path.join(src, "renders"), { recursive: true });
  fs.writeFileSync(path.join(src, "renders", "p.png"), ramp());
  const sk = createImage(8, 8, 1);
  sk.data.fill(255);
  sk.data[0] = 0; // one ink pixel in the top-left 2×2 block
  fs.writeFileSync(path.join(src, "sketches", "p.png"), encodePng(sk));
  fs.writeFileSync(path.join(src, "captions.csv"), "file,caption,caption_zh\np.png,a ramp,渐变\n");
  const r = await importDataset({ kind: "sketch2render", from: src, out: path.join(root, "ds"), size: 8 });
  const arr = loadPairArrays(loadDataset(r.dir), 4);
  assert.equal(arr.count, 1);
  assert.equal(arr.resolution, 4);
  assert.equal(arr.images.length, 4 * 4 * 3);
  for (let by = 0; by < 4; by++)
    for (let bx = 0; bx < 4; bx++)
      for (let k = 0; k < 3; k++) {
        // hand-worked: mean of the 2×2 block, rounded to 8 bits, then v / 127.5 - 1
        let sum = 0;
        for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) sum += ((2 * bx + dx + 8 * (2 * by + dy)) * 3 + k * 50) % 256;
        const expected = Math.round(sum / 4) / 127.5 - 1;
        assert.ok(Math.abs(arr.images[(by * 4 + bx) * 3 + k] - expected) < 1e-6, `(${bx},${by},${k})`);
      }
  assert.ok(arr.sketches);
  assert.equal(arr.sketches.length, 16);
  assert.ok(Math.abs(arr.sketches[0] - (Math.round((255 * 3) / 4) / 127.5 - 1)) < 1e-6);
  assert.ok(arr.sketches.slice(1).every((v) => v === 1));
  assert.deepEqual(arr.captions, ["a ramp"]);
  assert.deepEqual(arr.captionsZh, ["渐变"]);
});

test("subsets by index, captions in both languages, no sketches for art", () => {
  const root = tempDir();
  const cfg = datasetSchema.parse({ kind: "art", name: "x", n: 5, image_size: 32, seed: 2 });
  const ds = loadDataset(buildDataset(cfg, path.join(root, "d")).dir);
  const arr = loadPairArrays(ds, 16, [4, 1]);
  assert.deepEqual(arr.indices, [4, 1]);
  assert.deepEqual(arr.ids, ["0004", "0001"]);
  assert.equal(arr.sketches, null);
  assert.equal(arr.images.length, 2 * 16 * 16 * 3);
  assert.ok(arr.images.every((v) => v >= -1 && v <= 1));
  assert.deepEqual(arr.captions, [ds.pairs[4].caption, ds.pairs[1].caption]);
  assert.deepEqual(arr.captionsZh, [ds.pairs[4].caption_zh, ds.pairs[1].caption_zh]);
  assert.deepEqual(arr.attributes[0], ds.pairs[4].attributes);
  assert.throws(() => loadPairArrays(ds, 16, [5]), RangeError);
  // the full set at the stored size is the stored pixels exactly
  const full = loadPairArrays(ds, 32);
  assert.equal(full.count, 5);
  const stored = readPng(path.join(ds.dir, ds.pairs[3].image), 3);
  const offset = 3 * 32 * 32 * 3;
  for (let i = 0; i < stored.data.length; i++) assert.equal(full.images[offset + i], Math.fround(stored.data[i] / 127.5 - 1));
});
