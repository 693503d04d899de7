/** Hand-worked checks of the pieces: Holm, average ranks, GG ε bounds, ANOVA identities. */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { averageRanks, friedman } from "../../src/stats/friedman.js";
import { holm, pairedTTest } from "../../src/stats/posthoc.js";
import { greenhouseGeisserEpsilon, oneWayAnova, repeatedMeasuresAnova } from "../../src/stats/anova.js";
import { summarise } from "../../src/stats/summary.js";
import { assertClose } from "./helpers.js";

test("Holm: worked example, monotone and capped at 1", () => {
  // sorted 0.01, 0.03, 0.04 → 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06
  const adj = holm([0.01, 0.04, 0.03]);
  [0.03, 0.06, 0.06].forEach((e, i) => assertClose(adj[i]!, e, 1e-15, `p_holm[${i}]`));
  assert.deepEqual(holm([0.6, 0.9]), [1, 1]);
  const withNaN = holm([Number.NaN, 0.02]);
  assert.ok(Number.isNaN(withNaN[0]!));
  assertClose(withNaN[1]!, 0.04, 1e-15, "NaN still counts in m");
});

test("average ranks with ties", () => {
  assert.deepEqual(averageRanks([5, 1, 5, 3, 5]), { ranks: [4, 1, 4, 2, 4], tieSizes: [3] });
  assert.deepEqual(averageRanks([2, 2, 1, 1]), { ranks: [3.5, 3.5, 1.5, 1.5], tieSizes: [2, 2] });
});

test("Friedman without ties: hand-worked", () => {
  // every fold ranks the variants 1,2,3 → R = (n, 2n, 3n); n = 4: 12/(3·4·4)·(16+64+144) − 3·4·4 = 56 − 48 = 8
  const m = [[1, 2, 3], [10, 20, 30], [0, 5, 6], [-3, -2, -1]];
  const f = friedman(m);
  assertClose(f.chi2, 8, 1e-14, "chi2");
  assert.equal(f.df, 2);
  assertClose(f.p_chi2, Math.exp(-4), 1e-13, "χ² p = exp(-chi2/2) for df 2");
  // exact: only the 3! tables where every fold agrees on one order reach Σ R² = 224 → p = 6 / 6⁴
  assertClose(f.p, 6 / 6 ** 4, 1e-14, "exact p");
});

test("GG epsilon: 1 for two variants, 1 under compound symmetry, ≥ 1/(k−1) always", () => {
  assert.equal(greenhouseGeisserEpsilon([[1, 2], [3, 5], [4, 4]]), 1);
  // fold effect plus a variant-independent spread: covariance is compound-symmetric in expectation;
  // a table of pure fold shifts of one pattern with orthogonal noise gives exactly spherical S
  const m = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1]];
  assertClose(greenhouseGeisserEpsilon(m), 1, 1e-14, "spherical");
  const skew = [[0, 0, 9], [1, 0, -8], [0, 1, 7], [2, 1, -6]];
  const e = greenhouseGeisserEpsilon(skew);
  assert.ok(e >= 0.5 - 1e-12 && e < 1, `epsilon ${e}`);
});

test("ANOVA identities: one-way ignores fold shifts, repeated measures removes them", () => {
  const base = [[1, 2, 4], [2, 3, 4], [0, 2, 3]];
  const shifted = base.map((r, i) => r.map((x) => x + 100 * i));
  const a = repeatedMeasuresAnova(base);
  const b = repeatedMeasuresAnova(shifted);
  assertClose(b.F, a.F, 1e-9, "RM F invariant to fold shifts");
  const cols = (m: number[][]) => [0, 1, 2].map((j) => m.map((r) => r[j]!));
  assert.ok(oneWayAnova(cols(shifted)).F < oneWayAnova(cols(base)).F / 100);
  // partial eta² and F: eta = F df1 / (F df1 + df2)
  assertClose(a.partial_eta2, (a.F * a.df1) / (a.F * a.df1 + a.df2), 1e-12, "partial eta2");
});

test("paired t on two variants equals the RM ANOVA (t² = F)", () => {
  const a = [3.1, 4.5, 2.2, 5.0, 3.3];
  const b = [2.9, 4.0, 2.5, 4.1, 2.7];
  const t = pairedTTest(a, b);
  const rm = repeatedMeasuresAnova(a.map((x, i) => [x, b[i]!]));
  assertClose(t.t * t.t, rm.F, 1e-12, "t² = F");
  assertClose(t.p, rm.p, 1e-12, "same p");
});

test("summary: hand-worked CI; with 2 df the t quantile has the closed form (2u − 1) / √(2u(1 − u))", () => {
  const s = summarise([1, 2, 6]);
  assert.equal(s.n, 3);
  assert.equal(s.mean, 3);
  assertClose(s.sd, Math.sqrt(7), 1e-15, "sd");
  const u = 0.975;
  const half = ((2 * u - 1) / Math.sqrt(2 * u * (1 - u))) * (Math.sqrt(7) / Math.sqrt(3));
  assertClose(s.ci95[0], 3 - half, 1e-13, "lo");
  assertClose(s.ci95[1], 3 + half, 1e-13, "hi");
});
