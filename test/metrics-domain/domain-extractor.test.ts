/**
 * The committed domain feature extractor: its files check out, its features are well-formed
 * and deterministic, its attribute predictions on a fresh reference sample (generator seeds
 * disjoint from training and held-out sets) are far above chance, and its features separate
 * the two generators (FID between two art samples ≪ FID between art and renders).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { resizeArea, type Image } from "../../src/engine/image.js";
import { RuntimeFailure } from "../../src/errors.js";
import { DomainExtractor } from "../../src/metrics/domain/domain-extractor.js";
import { committedModelDir, META_FILE, WEIGHTS_FILE, type DomainKind } from "../../src/metrics/domain/model-file.js";
import { REFERENCE_SEEDS, referenceDrawing } from "../../src/metrics/domain/reference-set.js";
import { fid } from "../../src/metrics/fid.js";
import { kid } from "../../src/metrics/kid.js";
import { tempDir } from "../helpers/cli.js";

/** Fresh seeds: not the training (1000001/2) or held-out (1000011/12) reference seeds, nor any dataset seed. */
const FRESH = { art: 1_000_021, sketch2render: 1_000_022, artB: 1_000_023 } as const;
const N = 24;

interface Sample {
  images: Image[];
  attributes: Record<string, string | number>[];
}

function draw(kind: DomainKind, seed: number, n: number): Sample {
  const out: Sample = { images: [], attributes: [] };
  for (let i = 0; i < n; i++) {
    const d = referenceDrawing(kind, seed, i);
    out.images.push(d.image);
    out.attributes.push(d.attributes);
  }
  return out;
}

describe("committed domain feature extractor", () => {
  let ex: DomainExtractor;
  let art: Sample, render: Sample;

  before(async () => {
    for (const seed of Object.values(FRESH)) assert.ok(!Object.values(REFERENCE_SEEDS.train).includes(seed as never) && !Object.values(REFERENCE_SEEDS.heldout).includes(seed as never));
    ex = await DomainExtractor.load(); // starts a backend (wasm, one thread) since none runs yet
    art = draw("art", FRESH.art, N);
    render = draw("sketch2render", FRESH.sketch2render, N);
  });
  after(async () => {
    await ex.release();
  });

  it("weights.json records the sha256 and size of weights.bin, which is well under 1 MB", () => {
    const dir = committedModelDir();
    const bytes = fs.readFileSync(path.join(dir, WEIGHTS_FILE));
    const meta = JSON.parse(fs.readFileSync(path.join(dir, META_FILE), "utf8")) as { weights: { sha256: string; bytes: number } };
    assert.equal(meta.weights.sha256, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(meta.weights.bytes, bytes.length);
    assert.ok(bytes.length < 600_000, `${bytes.length} bytes`);
    assert.equal(tf.getBackend(), "wasm");
  });

  it("describes itself: model, input size, resize rule, normalisation, weights sha256", () => {
    const text = ex.describe();
    assert.equal(ex.name, "domain");
    assert.match(text, /32×32×3/);
    assert.match(text, /half-pixel bilinear/);
    assert.match(text, /x\/127\.5 − 1/);
    assert.ok(text.includes(ex.model.meta.weights.sha256.slice(0, 16)));
  });

  it("gives finite features of the declared dims, deterministic and independent of the batch", async () => {
    const images = [...art.images.slice(0, 3), ...render.images.slice(0, 3)];
    const a = await ex.extract(images);
    const b = await ex.extract(images);
    assert.equal(ex.dims, 128);
    assert.equal(a.length, images.length);
    for (const row of a) {
      assert.equal(row.length, ex.dims);
      assert.ok(row.every(Number.isFinite));
    }
    assert.deepEqual(a, b);
    const alone = (await ex.extract([images[4]]))[0];
    const worst = Math.max(...alone.map((v, i) => Math.abs(v - a[4][i])));
    assert.ok(worst < 1e-5, `batch dependence ${worst}`);
  });

  it("accepts any size and grey images (resized to 32×32)", async () => {
    const img = art.images[0];
    const grey: Image = { width: 128, height: 128, channels: 1, data: img.data.filter((_, i) => i % 3 === 1) };
    const rows = await ex.extract([resizeArea(img, 16), resizeArea(img, 64), grey, { width: 7, height: 300, channels: 3, data: new Uint8Array(7 * 300 * 3).fill(90) }]);
    assert.ok(rows.every((r) => r.length === 128 && r.every(Number.isFinite)));
  });

  it("predicts the attributes of a fresh reference sample far above chance", async () => {
    const chance = Object.fromEntries(ex.heads.map((h) => [h.name, 1 / h.classes.length]));
    const report: string[] = [];
    const check = async (kind: DomainKind, sample: Sample, prefix: string, floors: Record<string, number>) => {
      const keys = ex.attributeKeys(kind);
      const predicted = await ex.predictAttributes(sample.images, kind);
      for (const key of keys) {
        const head = `${prefix}.${key}`;
        const accuracy = predicted.filter((p, i) => p[key] === String(sample.attributes[i][key])).length / predicted.length;
        report.push(`${head} ${accuracy.toFixed(2)} (chance ${chance[head].toFixed(2)})`);
        assert.ok(accuracy >= floors[key], `${head}: accuracy ${accuracy} < ${floors[key]}; ${report.join(", ")}`);
      }
    };
    await check("art", art, "art", { style: 0.6, shape: 0.35, color: 0.8, count: 0.7, background: 0.8 });
    await check("sketch2render", render, "render", { category: 0.8, color: 0.8 });
  });

  it("tells the generators apart (domain head, no kind given)", async () => {
    const predicted = await ex.predictAttributes([...art.images, ...render.images]);
    const truth = [...art.images.map(() => "art"), ...render.images.map(() => "sketch2render")];
    const right = predicted.filter((p, i) => p.domain === truth[i]).length;
    assert.ok(right / truth.length >= 0.95, `${right}/${truth.length}`);
    const artKeys = ex.attributeKeys("art");
    assert.deepEqual(Object.keys(predicted[0]).sort(), ["domain", ...artKeys].sort());
    assert.deepEqual([...ex.attributes].sort(), ["background", "category", "color", "count", "shape", "style"]);
  });

  it("features separate the generators: KID(art, art') ≪ KID(art, render), and FID(art, art') < FID(art, render)", async () => {
    const artB = draw("art", FRESH.artB, N);
    const fa = await ex.extract(art.images), fb = await ex.extract(artB.images), fr = await ex.extract(render.images);
    // 24 images in 128 dims: FID carries a large small-sample bias, KID is unbiased
    const same = fid(fa, fb), cross = fid(fa, fr);
    const kidSame = kid(fa, fb).kid, kidCross = kid(fa, fr).kid;
    const shown = `FID(art, art') = ${same}, FID(art, render) = ${cross}, KID(art, art') = ${kidSame}, KID(art, render) = ${kidCross}`;
    assert.ok(same > 0 && cross > 1.3 * same, shown);
    assert.ok(kidCross > 0 && Math.abs(kidSame) < kidCross / 3, shown);
  });

  it("release() frees its tensors", async () => {
    const other = await DomainExtractor.load();
    const before = tf.memory().numTensors;
    await other.extract(art.images.slice(0, 2));
    await other.predictAttributes(art.images.slice(0, 2));
    assert.equal(tf.memory().numTensors, before, "inference leaves no tensors behind");
    await other.release();
    assert.equal(tf.memory().numTensors, before - other.model.meta.params.length);
  });

  it("refuses weights whose sha256 does not match weights.json", async () => {
    const dir = tempDir("diffx-domain-");
    fs.copyFileSync(path.join(committedModelDir(), META_FILE), path.join(dir, META_FILE));
    const bytes = fs.readFileSync(path.join(committedModelDir(), WEIGHTS_FILE));
    bytes[100] ^= 1;
    fs.writeFileSync(path.join(dir, WEIGHTS_FILE), bytes);
    await assert.rejects(DomainExtractor.load({ dir }), (e: unknown) => e instanceof RuntimeFailure && /weights\.bin: sha256 [0-9a-f]{64} does not match weights\.json/.test(e.message));
    fs.rmSync(path.join(dir, WEIGHTS_FILE));
    await assert.rejects(DomainExtractor.load({ dir }), /weights are missing; recreate them with 'diffx features train'/);
  });
});
