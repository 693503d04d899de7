/**
 * The domain network and its preprocessing against an independent PyTorch re-implementation
 * (fixtures/make_forward.py, float64): parameter names and shapes, the 128-d features and the
 * head logits for given weights and inputs (≤ 1e-4 relative), and the 32×32 input made from
 * 8-bit images by F.interpolate(bilinear, align_corners=False) and x/127.5 − 1 (≤ 1e-5), and
 * the training augmentation (mirror, edge-padded shift) against numpy.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import type { Image } from "../../src/engine/image.js";
import { features, headLogits, networkSpecs } from "../../src/metrics/domain/network.js";
import { augmentInto, preprocess } from "../../src/metrics/domain/preprocess.js";
import { TfjsOps } from "../../src/nn/tfjs-ops.js";

interface Encoded {
  shape: number[];
  f32?: string;
  u8?: string;
}
interface ParamFormula {
  shape: number[];
  scale: number;
  offset: number;
  k: number;
}
interface Fixture {
  heads: { name: string; classes: number }[];
  params: Record<string, ParamFormula>;
  x: Encoded;
  features: Encoded;
  logits: Record<string, Encoded>;
  preprocess: { image: Encoded; expected: Encoded }[];
  augment_src: Encoded;
  augment: { flip: boolean; dx: number; dy: number; expected: Encoded }[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(fs.readFileSync(path.join(here, "fixtures", "forward.json"), "utf8")) as Fixture;

function raw(e: Encoded): Buffer {
  const b64 = e.f32 ?? e.u8;
  if (b64 === undefined) throw new Error("fixture tensor without data");
  return Buffer.from(b64, "base64");
}
function f32(e: Encoded): Float32Array {
  const b = raw(e);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
/** The fixture's parameter formula (see make_forward.py). */
function paramValues(p: ParamFormula): Float32Array {
  const n = p.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = p.offset + p.scale * Math.sin(0.7 * i + 1.3 * p.k + 0.5);
  return out;
}
function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0, ref = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    ref = Math.max(ref, Math.abs(expected[i]));
  }
  return diff / ref;
}

const heads = fixture.heads.map((h) => ({ name: h.name, classes: Array.from({ length: h.classes }, (_, i) => `c${i}`) }));

describe("domain network vs PyTorch", () => {
  before(async () => {
    await tf.setBackend("cpu");
  });

  it("declares exactly the reference's parameter names and shapes", () => {
    const declared = new Map(networkSpecs(heads).map((s) => [s.name, s.shape]));
    assert.deepEqual([...declared.keys()].sort(), Object.keys(fixture.params).sort());
    for (const [name, p] of Object.entries(fixture.params)) assert.deepEqual(declared.get(name), p.shape, name);
  });

  it("features and head logits match to 1e-4 relative", () => {
    const tensors = new Map(Object.entries(fixture.params).map(([name, p]) => [name, tf.tensor(paramValues(p), p.shape, "float32")]));
    const start = tf.memory().numTensors;
    const ops = new TfjsOps(tensors);
    const [feats, ...logits] = tf.tidy(() => {
      const f = features(ops, tf.tensor(f32(fixture.x), fixture.x.shape, "float32"));
      return [f, ...heads.map((h) => headLogits(ops, f, h.name))];
    });
    assert.deepEqual(feats.shape, fixture.features.shape);
    const eFeat = relError(feats.dataSync(), f32(fixture.features));
    assert.ok(eFeat < 1e-4, `features: relative error ${eFeat}`);
    heads.forEach((h, k) => {
      const e = relError(logits[k].dataSync(), f32(fixture.logits[h.name]));
      assert.ok(e < 1e-4, `${h.name}: relative error ${e}`);
    });
    tf.dispose([feats, ...logits]);
    assert.equal(tf.memory().numTensors, start, "no tensors leaked");
    tf.dispose([...tensors.values()]);
  });

  for (const c of fixture.preprocess) {
    const [h, w, channels] = c.image.shape;
    it(`preprocessing a ${w}×${h} ${channels === 1 ? "grey" : "RGB"} image matches F.interpolate + x/127.5 − 1`, () => {
      const img: Image = { width: w, height: h, channels: channels as 1 | 3, data: new Uint8Array(raw(c.image)) };
      const got = preprocess(img);
      const want = f32(c.expected);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      assert.ok(worst < 1e-5, `max abs error ${worst}`);
    });
  }

  for (const c of fixture.augment) {
    it(`augmentation flip=${c.flip} shift=(${c.dx}, ${c.dy}) matches a numpy mirror and edge-padded shift`, () => {
      const out = new Float32Array(32 * 32 * 3 + 5);
      augmentInto(f32(fixture.augment_src), { flip: c.flip, dx: c.dx, dy: c.dy }, out, 5);
      assert.deepEqual(out.subarray(5), f32(c.expected));
    });
  }
});
