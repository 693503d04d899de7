/**
 * Exact small-sample tests of two variants scored on the same folds (differences a − b per fold).
 *
 * - Sign test: folds where a > b (wins) and a < b (losses); tied folds drop out. Under H0 the
 *   wins are Binomial(wins + losses, ½); two-sided p = min(1, 2 · P(X ≤ min(wins, losses)))
 *   (scipy.stats.binomtest(wins, wins + losses).pvalue: the binomial is symmetric at ½).
 * - Wilcoxon signed-rank: zero differences dropped (scipy's zero_method="wilcox"), the |d| ranked
 *   with ties averaged, R+ = sum of the ranks of positive differences. The exact null
 *   distribution conditions on those ranks: each of the 2^m sign patterns is equally likely.
 *   It is built by convolution over doubled ranks (integers), so ties are handled exactly.
 *   Two-sided p = min(1, 2 · min(P(R+ ≤ r+), P(R+ ≥ r+))); without ties this is
 *   scipy.stats.wilcoxon(method="exact"). statistic = min(R+, R−), as scipy reports it.
 *   The convolution costs about m³ steps, so above WILCOXON_EXACT_MAX non-zero differences
 *   (far beyond any k-fold table, but a long CSV can get there) the p-value is the normal
 *   approximation with the tie-corrected variance, as scipy.stats.wilcoxon(method="approx")
 *   computes it: z = (R+ − m(m+1)/4) / √(m(m+1)(2m+1)/24 − Σ(t³ − t)/48), p = P(|Z| ≥ |z|).
 */
import betainc from "@stdlib/math-base-special-betainc";
import { chiSquareUpperTail } from "./distributions.js";
import { averageRanks } from "./friedman.js";

/** Non-zero differences up to which the Wilcoxon p is exact (about 0.1 s at this size). */
export const WILCOXON_EXACT_MAX = 400;

export interface SignTest {
  wins: number;
  losses: number;
  ties: number;
  /** Two-sided exact binomial p. */
  p: number;
}

export interface WilcoxonTest {
  /** min(R+, R−). */
  statistic: number;
  r_plus: number;
  r_minus: number;
  /** Non-zero differences ranked. */
  n: number;
  /** Two-sided p: exact (conditional on the ranks, so exact with ties too), or the normal approximation above WILCOXON_EXACT_MAX. */
  p: number;
  method: "exact" | "normal";
}

export function signTest(a: readonly number[], b: readonly number[]): SignTest {
  let wins = 0, losses = 0, ties = 0;
  a.forEach((x, i) => {
    const d = x - b[i]!;
    if (d > 0) wins++;
    else if (d < 0) losses++;
    else ties++;
  });
  const m = wins + losses;
  if (m === 0) return { wins, losses, ties, p: 1 };
  const lo = Math.min(wins, losses);
  // past 1023 trials 2^m overflows: P(X ≤ lo) is then the regularised incomplete beta I_½(m − lo, lo + 1)
  if (m > 1023) return { wins, losses, ties, p: Math.min(1, 2 * betainc(0.5, m - lo, lo + 1, true, false)) };
  // P(X ≤ min) for X ~ Bin(m, 1/2), summed from exact binomial coefficients
  let tail = 0;
  let coef = 1; // C(m, 0)
  for (let x = 0; x <= lo; x++) {
    tail += coef;
    coef = (coef * (m - x)) / (x + 1);
  }
  return { wins, losses, ties, p: Math.min(1, (2 * tail) / 2 ** m) };
}

export function wilcoxonSignedRank(a: readonly number[], b: readonly number[]): WilcoxonTest {
  // a difference of two finite values can overflow (1e308 − (−1e308)); halving both first cannot, and keeps the ranks
  const overflows = a.some((x, i) => !Number.isFinite(x - b[i]!));
  const d = a.map((x, i) => (overflows ? x / 2 - b[i]! / 2 : x - b[i]!)).filter((x) => x !== 0);
  const n = d.length;
  if (n === 0) return { statistic: 0, r_plus: 0, r_minus: 0, n: 0, p: 1, method: "exact" };
  const { ranks, tieSizes } = averageRanks(d.map(Math.abs));
  let rPlus = 0, total = 0;
  ranks.forEach((r, i) => {
    total += r;
    if (d[i]! > 0) rPlus += r;
  });
  const rMinus = total - rPlus;
  if (n > WILCOXON_EXACT_MAX) {
    let tieTerm = 0;
    for (const t of tieSizes) tieTerm += t * (t * t - 1);
    const z = (rPlus - (n * (n + 1)) / 4) / Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
    // P(|Z| ≥ |z|) = P(χ²₁ ≥ z²), the upper tail without cancellation
    return { statistic: Math.min(rPlus, rMinus), r_plus: rPlus, r_minus: rMinus, n, p: chiSquareUpperTail(z * z, 1), method: "normal" };
  }
  // distribution of 2·R+ over the 2^n equally likely sign patterns
  const doubled = ranks.map((r) => Math.round(2 * r));
  const max = doubled.reduce((s, x) => s + x, 0);
  let dist = new Float64Array(max + 1);
  dist[0] = 1;
  for (const r of doubled) {
    const next = new Float64Array(max + 1);
    for (let s = 0; s <= max; s++) {
      const v = dist[s]!;
      if (v === 0) continue;
      next[s] += v / 2;
      next[s + r] += v / 2;
    }
    dist = next;
  }
  const obs = Math.round(2 * rPlus);
  let le = 0, ge = 0;
  for (let s = 0; s <= max; s++) {
    if (s <= obs) le += dist[s]!;
    if (s >= obs) ge += dist[s]!;
  }
  return { statistic: Math.min(rPlus, rMinus), r_plus: rPlus, r_minus: rMinus, n, p: Math.min(1, 2 * Math.min(le, ge)), method: "exact" };
}
