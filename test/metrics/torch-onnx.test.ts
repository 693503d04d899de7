/**
 * `onnx:PATH` against the PyTorch pipeline pytorch-fid uses in front of InceptionV3 (8-bit RGB →
 * [0, 1] → F.interpolate bilinear, align_corners=False → 2x − 1 → network), with a small CNN
 * exported by torch.onnx (test/fixtures/metrics/make_torch_onnx.py; the fixture is committed, no
 * Python needed here). diffx does the resize and scaling itself and must give torch's features.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "../helpers/cli.js";
import { loadExtractor } from "../../src/metrics/extractor.js";

const DIR = path.join(ROOT, "test", "fixtures", "metrics");
const fx = JSON.parse(fs.readFileSync(path.join(DIR, "torch-onnx.json"), "utf8")) as { input_size: number; images: { side: number; rgb: number[] }[]; features: number[][] };

test("onnx:PATH with --input-size and [-1,1] equals torch's pytorch-fid preprocessing + network (up- and downsampling)", async () => {
  const ex = await loadExtractor(`onnx:${path.join(DIR, "onnx", "torch-small.onnx")}`, { inputSize: fx.input_size, normalize: "[-1,1]" });
  try {
    const images = fx.images.map((i) => ({ width: i.side, height: i.side, channels: 3 as const, data: Uint8Array.from(i.rgb) }));
    const got = await ex.extract(images);
    assert.equal(ex.dims, 12);
    got.forEach((row, i) => {
      const want = fx.features[i]!;
      const err = Math.max(...want.map((w, k) => Math.abs(row[k]! - w) / Math.max(1e-3, Math.abs(w))));
      assert.ok(err < 1e-4, `image ${i} (${fx.images[i]!.side} px): max relative error ${err}`);
    });
  } finally {
    await ex.release?.();
  }
});
