/**
 * `diffx stats` numbers vs statsmodels AnovaRM / OLS sums of squares, scipy friedmanchisquare /
 * binomtest / wilcoxon / permutation_test / ttest_rel / t.ppf, brute-force enumeration of the
 * exact Friedman distribution and numpy, recorded by test/fixtures/stats/make_stats.py.
 * Agreement to 1e-9 relative.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { analyse, analyseMatrix, columns, friedman, friedmanPermutationP, oneWayAnova, readTableCsv, toFoldMatrix } from "../../src/stats/index.js";
import { averageRanks } from "../../src/stats/friedman.js";
import { FIXTURES, assertDeepClose, loadExpected } from "./helpers.js";

const expected = loadExpected();
const tables = Object.keys(expected).filter((k) => !k.startsWith("_"));

test("the fixture holds the tables the issue asks for", () => {
  assert.ok(tables.length >= 7);
  const rm = expected["rm_vs_oneway_5x3"] as { rm_anova: { p: number } };
  const ow = (expected["_oneway"] as Record<string, { p: number }>)["rm_vs_oneway_5x3"]!;
  assert.ok(rm.rm_anova.p < 0.01 && ow.p > 0.5, "one-way and repeated measures disagree");
});

test("the issue's case: 5 folds won by one variant give exact p = 2/32 = 0.0625, not the χ² 0.0253", () => {
  const file = path.join(FIXTURES, "all_wins_5x2.csv");
  const r = analyseMatrix(toFoldMatrix(readTableCsv(file), file));
  assert.equal(r.friedman.p, 0.0625);
  assert.equal(r.friedman.p_method, "exact");
  assert.ok(Math.abs(r.friedman.p_chi2 - 0.0253) < 1e-4);
  assert.equal(r.paired?.sign_test.p, 0.0625);
  assert.equal(r.paired?.wilcoxon.p, 0.0625);
});

test("one-way ANOVA (kept out of the analysis) still agrees with scipy f_oneway", () => {
  const ow = expected["_oneway"] as Record<string, unknown>;
  for (const name of tables) {
    const file = path.join(FIXTURES, `${name}.csv`);
    assertDeepClose(oneWayAnova(columns(toFoldMatrix(readTableCsv(file), file).values)), ow[name], 1e-9, name);
  }
});

test("Friedman's seeded Monte-Carlo p lies within 4 standard errors of the exact p, and repeats", () => {
  for (const name of ["rm_vs_oneway_5x3", "four_variants_5x4", "friedman_ties_10x4"]) {
    const file = path.join(FIXTURES, `${name}.csv`);
    const values = toFoldMatrix(readTableCsv(file), file).values;
    const exact = (expected[name] as { friedman: { p: number } }).friedman.p;
    const ranks = values.map((row) => averageRanks(row).ranks);
    const mc = friedmanPermutationP(ranks, { monteCarlo: true, permutations: 20_000 });
    assert.equal(mc.method, "monte-carlo");
    assert.ok(mc.mc_se !== null && Math.abs(mc.p - exact) <= 4 * mc.mc_se + 1 / 20_001, `${name}: MC ${mc.p} ± ${mc.mc_se} vs exact ${exact}`);
    assert.deepEqual(friedmanPermutationP(ranks, { monteCarlo: true, permutations: 20_000 }), mc);
  }
});

test("Friedman above 10 folds falls back to the χ² approximation and says so", () => {
  const values = Array.from({ length: 11 }, (_, i) => [i, i + 1 + (i % 3), i + 2]);
  const f = friedman(values);
  assert.equal(f.exact, null);
  assert.equal(f.p_method, "chi-square");
  assert.equal(f.p, f.p_chi2);
});

for (const name of tables) {
  test(`${name}: every number agrees with statsmodels/scipy to 1e-9`, () => {
    const file = path.join(FIXTURES, `${name}.csv`);
    const result = analyseMatrix(toFoldMatrix(readTableCsv(file), file));
    assertDeepClose(JSON.parse(JSON.stringify(result)), expected[name], 1e-9, name);
  });
}

test("analyse() on in-memory rows gives the same result as the CSV", () => {
  const file = path.join(FIXTURES, "rm_vs_oneway_5x3.csv");
  const rows = readTableCsv(file).map((o) => ({ fold: Number(o.fold), variant: o.variant, value: o.value }));
  assertDeepClose(analyse(rows), expected["rm_vs_oneway_5x3"], 1e-9);
});

test("row order does not matter beyond the order of first appearance", () => {
  const file = path.join(FIXTURES, "four_variants_5x4.csv");
  const rows = readTableCsv(file);
  const reordered = [...rows.slice(0, 4), ...rows.slice(4).reverse()];
  assertDeepClose(analyse(reordered), expected["four_variants_5x4"], 1e-9);
});
