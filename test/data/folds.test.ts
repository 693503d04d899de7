/** k-fold splits: disjoint, covering, stratified, pair-preserving, sizes within 1, seeded. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { kFold, trainIndices, defaultStratifyKey, type FoldPair } from "../../src/data/folds.js";
import { artAttributes } from "../../src/data/art/generate.js";
import { UsageError } from "../../src/errors.js";

const HASH = "a".repeat(64);

/** The 60 art pairs' real attributes, one pair per group. */
const art: FoldPair[] = Array.from({ length: 60 }, (_, i) => ({ group: String(i).padStart(4, "0"), attributes: { ...artAttributes(1, i) } }));

/** 55 pairs with uneven strata (categories of 13, 11, 9, 9, 7, 6). */
const uneven: FoldPair[] = [13, 11, 9, 9, 7, 6].flatMap((count, c) => Array.from({ length: count }, (_, j) => ({ group: `c${c}-${j}`, attributes: { category: `cat${c}` } })));

function checkPartition(folds: number[][], n: number, k: number): void {
  assert.equal(folds.length, k);
  const all = folds.flat().sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: n }, (_, i) => i), "disjoint and covering");
  for (const f of folds) assert.deepEqual(f, [...f].sort((a, b) => a - b), "sorted");
}

function spread(values: number[]): number {
  return Math.max(...values) - Math.min(...values);
}

for (const [name, pairs, key] of [["art by style", art, "style"], ["uneven categories", uneven, "category"]] as const) {
  test(`${name}: k = 2..10 disjoint, covering, sizes and strata within 1`, () => {
    for (let k = 2; k <= 10; k++) {
      const folds = kFold(pairs, k, 0, key, HASH);
      checkPartition(folds, pairs.length, k);
      assert.ok(spread(folds.map((f) => f.length)) <= 1, `k=${k} sizes ${folds.map((f) => f.length)}`);
      const strata = [...new Set(pairs.map((p) => String(p.attributes[key])))];
      for (const s of strata) {
        const perFold = folds.map((f) => f.filter((i) => String(pairs[i].attributes[key]) === s).length);
        assert.ok(spread(perFold) <= 1, `k=${k} stratum ${s}: ${perFold}`);
      }
      for (let i = 0; i < k; i++) {
        const train = trainIndices(folds, i);
        assert.equal(train.length + folds[i].length, pairs.length);
        assert.ok(train.every((t) => !folds[i].includes(t)));
      }
    }
  });
}

test("groups never straddle folds (pairs sharing a group stay together)", () => {
  // 40 groups of 1–3 pairs (e.g. several views of one product), two strata
  const pairs: FoldPair[] = [];
  for (let g = 0; g < 40; g++) for (let j = 0; j < 1 + (g % 3); j++) pairs.push({ group: `g${g}`, attributes: { category: g % 2 ? "mug" : "lamp" } });
  for (let k = 2; k <= 10; k++) {
    const folds = kFold(pairs, k, 3, "category", HASH);
    checkPartition(folds, pairs.length, k);
    const foldOf = new Map<string, number>();
    folds.forEach((f, fi) =>
      f.forEach((i) => {
        const prev = foldOf.get(pairs[i].group);
        assert.ok(prev === undefined || prev === fi, `group ${pairs[i].group} in folds ${prev} and ${fi}`);
        foldOf.set(pairs[i].group, fi);
      }),
    );
    // greedy balance: sizes differ by at most the largest group size
    assert.ok(spread(folds.map((f) => f.length)) <= 3, `k=${k} sizes ${folds.map((f) => f.length)}`);
  }
});

test("a function of (dataset hash, k, seed): same inputs same folds, any change reshuffles", () => {
  const a = kFold(art, 5, 0, "style", HASH);
  assert.deepEqual(kFold(art, 5, 0, "style", HASH), a);
  assert.deepEqual(kFold([...art], 5, 0, "style", HASH), a, "no hidden state");
  assert.notDeepEqual(kFold(art, 5, 1, "style", HASH), a);
  assert.notDeepEqual(kFold(art, 5, 0, "style", "b".repeat(64)), a);
});

test("no stratification key: plain balanced split", () => {
  const pairs = Array.from({ length: 23 }, (_, i) => ({ group: `g${i}`, attributes: {} }));
  for (let k = 2; k <= 10; k++) {
    const folds = kFold(pairs, k, 0, null, HASH);
    checkPartition(folds, 23, k);
    assert.ok(spread(folds.map((f) => f.length)) <= 1);
  }
});

test("errors: k < 2, k > number of groups, unknown stratification attribute", () => {
  const six = art.slice(0, 6);
  assert.throws(() => kFold(six, 1, 0, "style", HASH), (e: unknown) => e instanceof UsageError && /k must be an integer ≥ 2/.test(e.message));
  assert.throws(() => kFold(six, 7, 0, "style", HASH), (e: unknown) => e instanceof UsageError && /k = 7 is more than the 6 pair groups/.test(e.message));
  const grouped = six.map((p, i) => ({ ...p, group: `g${i % 3}` }));
  assert.throws(() => kFold(grouped, 4, 0, "style", HASH), (e: unknown) => e instanceof UsageError && /3 pair groups/.test(e.message));
  assert.throws(() => kFold(six, 2, 0, "colour", HASH), (e: unknown) => e instanceof UsageError && /no attribute 'colour'.*style/.test(e.message));
});

test("default stratification key", () => {
  assert.equal(defaultStratifyKey("art", art), "style");
  assert.equal(defaultStratifyKey("sketch2render", uneven), "category");
  assert.equal(defaultStratifyKey("art", [{ group: "x", attributes: {} }]), null, "imported data has no attributes");
  assert.equal(defaultStratifyKey("art", art, "shape"), "shape");
  assert.equal(defaultStratifyKey("art", art, "none"), null);
});
