/**
 * The generator seed ranges (src/config/seed-ranges.ts) are disjoint, and everything that draws
 * from a generator stays in its own: every shipped config's dataset, the domain extractor's
 * reference set, the pretraining corpora and held-out sets of the shipped bases. A config that
 * strays is refused at load.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT } from "../helpers/cli.js";
import { SEED_RANGES, inSeedRange } from "../../src/config/seed-ranges.js";
import { loadConfig } from "../../src/config/load.js";
import { UsageError } from "../../src/errors.js";
import { REFERENCE_SEEDS } from "../../src/metrics/domain/reference-set.js";
import { findBases, readBaseMeta, shippedBasesDir } from "../../src/train/base-file.js";

test("the seed ranges do not overlap", () => {
  const ranges = Object.values(SEED_RANGES);
  for (const r of ranges) assert.ok(r.min <= r.max);
  for (let i = 0; i < ranges.length; i++)
    for (let j = i + 1; j < ranges.length; j++) assert.ok(ranges[i].max < ranges[j].min || ranges[j].max < ranges[i].min, `${ranges[i].what} and ${ranges[j].what} overlap`);
});

test("the domain extractor's reference seeds lie in the reference range", () => {
  for (const part of Object.values(REFERENCE_SEEDS)) for (const seed of Object.values(part)) assert.ok(inSeedRange("reference", seed), `${seed}`);
});

test("every shipped config's dataset seed lies in its range (pretraining configs: the pretraining range)", () => {
  const dir = path.join(ROOT, "configs");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length >= 6);
  for (const f of files) {
    const { config } = loadConfig(path.join(dir, f));
    if (config.dataset.kind === "folder") continue;
    const use = config.pretrain ? "pretrain" : "dataset";
    assert.ok(inSeedRange(use, config.dataset.seed), `${f}: dataset.seed ${config.dataset.seed} not in the ${use} range`);
    if (config.pretrain) assert.ok(inSeedRange("pretrain", config.pretrain.heldout_seed) && config.pretrain.heldout_seed !== config.dataset.seed, f);
  }
});

test("the shipped bases' corpora and held-out sets use distinct seeds of the pretraining range", () => {
  type Meta = { corpus: { seed: number }; heldout: { seed: number }; pretraining: { init?: "scratch" | { source: string } } };
  const bases = findBases([shippedBasesDir()]).map(({ name, dir }) => ({ name, meta: readBaseMeta(dir) as unknown as Meta }));
  const corpora = new Set<number>();
  const heldouts = new Set<number>();
  for (const { name, meta } of bases) {
    assert.ok(inSeedRange("pretrain", meta.corpus.seed), `${name} corpus`);
    assert.ok(inSeedRange("pretrain", meta.heldout.seed), `${name} held-out`);
    corpora.add(meta.corpus.seed);
    heldouts.add(meta.heldout.seed);
  }
  // a held-out set is never any base's corpus
  for (const seed of heldouts) assert.ok(!corpora.has(seed), `held-out seed ${seed} is also a corpus seed`);
  // two bases share a corpus only when one continues the other (a second pretraining stage)
  const continues = (a: string, b: string): boolean => {
    const init = bases.find((x) => x.name === a)?.meta.pretraining.init;
    return typeof init === "object" && init.source === `base:${b}`;
  };
  for (const a of bases) {
    for (const b of bases) {
      if (a.name < b.name && a.meta.corpus.seed === b.meta.corpus.seed) assert.ok(continues(a.name, b.name) || continues(b.name, a.name), `${a.name} and ${b.name} share corpus seed ${a.meta.corpus.seed}`);
    }
  }
  assert.ok(corpora.size >= 2, "the art and sketch bases have corpora of their own");
});

test("a dataset seed outside the dataset range is refused at load, naming the key and the range", () => {
  assert.throws(() => loadConfig(path.join(ROOT, "configs", "ci-tiny.yaml"), ["dataset.seed=1000001"]), (e: unknown) => e instanceof UsageError && /dataset\.seed: 1000001 is outside the seed range of datasets built from a config \(0–999999/.test(e.message));
  assert.throws(() => loadConfig(path.join(ROOT, "configs", "pretrain-art-32.yaml"), ["pretrain.heldout_seed=2000001"]), (e: unknown) => e instanceof UsageError && /must differ from dataset\.seed/.test(e.message));
});
