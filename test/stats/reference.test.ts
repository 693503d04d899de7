/**
 * `diffx stats` numbers vs statsmodels AnovaRM, scipy f_oneway / friedmanchisquare / ttest_rel /
 * t.ppf and numpy, recorded by test/fixtures/stats/make_stats.py. Agreement to 1e-9 relative.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { analyse, analyseMatrix, readTableCsv, toFoldMatrix } from "../../src/stats/index.js";
import { FIXTURES, assertDeepClose, loadExpected } from "./helpers.js";

const expected = loadExpected();
const tables = Object.keys(expected).filter((k) => !k.startsWith("_"));

test("the fixture holds the tables the issue asks for", () => {
  assert.ok(tables.length >= 6);
  const rm = expected["rm_vs_oneway_5x3"] as { rm_anova: { p: number }; oneway_anova: { p: number } };
  assert.ok(rm.rm_anova.p < 0.01 && rm.oneway_anova.p > 0.5, "one-way and repeated measures disagree");
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
