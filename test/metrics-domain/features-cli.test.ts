/**
 * `diffx features train` and `diffx features show` through the real CLI (compiled dist/):
 * a tiny training run writes a loadable weights folder, the same settings in another process
 * write bit-identical weights, and bad options are usage errors. (The full training that made
 * the committed weights is not repeated here.)
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { DomainExtractor } from "../../src/metrics/domain/domain-extractor.js";
import { readDomainModel } from "../../src/metrics/domain/model-file.js";
import { runCli, tempDir } from "../helpers/cli.js";

const TINY = ["--steps", "3", "--batch-size", "4", "--train-images", "2", "--heldout-images", "1", "--threads", "1"];

interface TrainJson {
  out: string;
  weights_sha256: string;
  bytes: number;
  accuracy: Record<string, number>;
  backend: string;
}

describe("diffx features", () => {
  const dir = tempDir("diffx-features-");
  const outA = path.join(dir, "a"), outB = path.join(dir, "b");
  let first: TrainJson;

  it("train --steps 3 --out DIR writes a weights folder the extractor loads", async () => {
    const r = runCli(["features", "train", ...TINY, "--out", outA, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    first = JSON.parse(r.stdout) as TrainJson;
    assert.equal(first.out, outA);
    const bytes = fs.readFileSync(path.join(outA, "weights.bin"));
    assert.equal(first.weights_sha256, createHash("sha256").update(bytes).digest("hex"));
    const model = readDomainModel(outA);
    assert.equal(model.meta.weights.sha256, first.weights_sha256);
    assert.equal((model.meta.training as { steps: number }).steps, 3);
    const ref = model.meta.reference_set as { train: { generators: Record<string, { seed: number; n: number }> } };
    assert.deepEqual(Object.values(ref.train.generators).map((g) => [g.seed, g.n]), [[1_000_001, 2], [1_000_002, 2]]);
    assert.deepEqual(Object.keys(first.accuracy), model.meta.heads.map((h) => h.name));
    const ex = await DomainExtractor.load({ dir: outA });
    assert.equal(ex.dims, 128);
    await ex.release();
  });

  it("the same settings in a new process write bit-identical weights", () => {
    const r = runCli(["features", "train", ...TINY, "--out", outB, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as TrainJson).weights_sha256, first.weights_sha256);
    assert.deepEqual(fs.readFileSync(path.join(outB, "weights.json")), fs.readFileSync(path.join(outA, "weights.json")));
  });

  it("show prints the committed metadata", () => {
    const r = runCli(["features", "show", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const meta = JSON.parse(r.stdout) as { format: string; accuracy: Record<string, number> };
    assert.equal(meta.format, "diffx-domain-features/1");
    assert.ok(meta.accuracy["art.style"] >= 0.6 && meta.accuracy["render.category"] >= 0.9, JSON.stringify(meta.accuracy));
    const human = runCli(["features", "show"]);
    assert.match(human.stdout, /held-out accuracy per head:\n {2}domain/);
  });

  it("bad options are usage errors (exit 2) naming the option", () => {
    const r = runCli(["features", "train", "--steps", "0", "--out", path.join(dir, "c")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--steps must be an integer ≥ 1, got '0'/);
    assert.ok(!fs.existsSync(path.join(dir, "c")));
    const s = runCli(["features", "train", "--lr", "fast", "--out", path.join(dir, "c")]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /--lr must be a positive number, got 'fast'/);
  });
});
