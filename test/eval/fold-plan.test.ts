import { test } from "node:test";
import assert from "node:assert/strict";
import { planFolds } from "../../src/eval/fold-plan.js";
import type { Dataset, PairRecord } from "../../src/data/dataset.js";
import { UsageError } from "../../src/errors.js";

function dataset(groups: string[]): Dataset {
  const pairs: PairRecord[] = groups.map((g, i) => ({ id: String(i).padStart(4, "0"), image: `images/${i}.png`, caption: "c", attributes: { style: i % 2 ? "a" : "b" }, group: g }));
  return { dir: "/data/x", kind: "art", manifest: {} as Dataset["manifest"], pairs, hash: "f".repeat(64), imageSize: 16 };
}

test("folds partition the pairs, keep groups together, and train on the rest", () => {
  const ds = dataset(["g0", "g0", "g1", "g2", "g2", "g3", "g4", "g5", "g6", "g7"]);
  const plan = planFolds(ds, 3, 7, undefined, "--folds");
  assert.equal(plan.k, 3);
  assert.equal(plan.stratify, "style");
  assert.deepEqual(plan.heldOut.flat().sort((a, b) => a - b), ds.pairs.map((_, i) => i));
  for (const [i, rows] of plan.heldOut.entries()) {
    assert.ok(rows.length >= 2);
    assert.deepEqual([...plan.train[i], ...rows].sort((a, b) => a - b), ds.pairs.map((_, j) => j));
    const groups = new Set(rows.map((r) => ds.pairs[r].group));
    for (const [j, other] of plan.heldOut.entries()) if (j !== i) for (const r of other) assert.ok(!groups.has(ds.pairs[r].group), "a group is split across folds");
  }
  // the same inputs give the same folds
  assert.deepEqual(planFolds(ds, 3, 7, undefined, "--folds").heldOut, plan.heldOut);
});

test("k below 2, above the number of groups, or leaving a fold with one pair: UsageError naming the source", () => {
  const ds = dataset(["a", "b", "c", "d", "e"]);
  assert.throws(() => planFolds(ds, 1, 0, undefined, "--folds"), (e: unknown) => e instanceof UsageError && /--folds 1: .*at least 2 folds/.test(e.message));
  assert.throws(() => planFolds(ds, 6, 0, undefined, "eval.folds"), (e: unknown) => e instanceof UsageError && /eval.folds 6: .*only 5 pair groups/.test(e.message));
  assert.throws(() => planFolds(ds, 3, 0, undefined, "--folds"), (e: unknown) => e instanceof UsageError && /hold out only 1 pair .*at most 2 folds/.test(e.message));
  assert.equal(planFolds(ds, 2, 0, undefined, "--folds").k, 2);
});
