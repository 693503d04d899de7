/** Exact tails and t quantiles vs scipy (f.sf, t.sf, chi2.sf, t.isf), recorded in expected.json. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { chiSquareUpperTail, fUpperTail, tTwoSidedP, tUpperQuantile, tUpperTail } from "../../src/stats/distributions.js";
import { assertClose, loadExpected } from "./helpers.js";

const d = loadExpected()["_distributions"] as { f_sf: number[][]; t_sf: number[][]; chi2_sf: number[][]; t_isf: number[][] };

test("F upper tail matches scipy f.sf, including tails near 1e-131", () => {
  for (const [x, d1, d2, p] of d.f_sf) assertClose(fUpperTail(x!, d1!, d2!), p!, 1e-9, `F(${x}; ${d1}, ${d2})`);
});

test("t upper tail and two-sided p match scipy t.sf", () => {
  for (const [x, df, sf, two] of d.t_sf) {
    assertClose(tUpperTail(x!, df!), sf!, 1e-9, `t.sf(${x}; ${df})`);
    assertClose(tTwoSidedP(x!, df!), two!, 1e-9, `2 t.sf(|${x}|; ${df})`);
  }
});

test("chi-square upper tail matches scipy chi2.sf", () => {
  for (const [x, df, p] of d.chi2_sf) assertClose(chiSquareUpperTail(x!, df!), p!, 1e-9, `chi2.sf(${x}; ${df})`);
});

test("t quantile matches the 40-digit quantile to 1e-12 (and scipy's t.ppf to its own 1e-8)", () => {
  for (const [p, df, exact, ppf] of d.t_isf) {
    const q = tUpperQuantile(p!, df!);
    assertClose(q, exact!, 1e-12, `quantile(${p}; ${df})`);
    if (exact !== 0) assertClose(q, ppf!, 1e-8, `t.ppf(1 - ${p}; ${df})`); // scipy gives 8e-17 for p = 0.5
  }
});

test("hand-worked values and edges", () => {
  // t with 1 df is Cauchy: P(T > 1) = 1/4; chi-square with 2 df: P(X > x) = exp(-x/2)
  assertClose(tUpperTail(1, 1), 0.25, 1e-15, "cauchy");
  assertClose(chiSquareUpperTail(3, 2), Math.exp(-1.5), 1e-14, "chi2 df 2");
  // F(2, 2): P(F > f) = 1 / (1 + f)
  assertClose(fUpperTail(3, 2, 2), 0.25, 1e-14, "F(2,2)");
  assert.equal(fUpperTail(0, 3, 4), 1);
  assert.equal(fUpperTail(Number.POSITIVE_INFINITY, 3, 4), 0);
  assert.ok(Number.isNaN(fUpperTail(Number.NaN, 3, 4)));
  assert.equal(tTwoSidedP(Number.NEGATIVE_INFINITY, 4), 0);
  assert.equal(tUpperQuantile(0.5, 7), 0);
  assertClose(tUpperQuantile(0.975, 4), -tUpperQuantile(0.025, 4), 1e-15, "symmetry");
});
