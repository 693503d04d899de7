/**
 * Exact tail probabilities for the F, t and chi-square distributions, computed from the
 * regularised incomplete beta and gamma functions (@stdlib), never as `1 - cdf`, so tiny
 * p-values keep their relative precision. The forms are the ones scipy/cephes use
 * (fdtrc, stdtr, chdtrc), so results agree with scipy to rounding.
 */
import betainc from "@stdlib/math-base-special-betainc";
import gammainc from "@stdlib/math-base-special-gammainc";

/** P(F > f) for F ~ F(d1, d2): I_{d2/(d2 + d1 f)}(d2/2, d1/2). */
export function fUpperTail(f: number, d1: number, d2: number): number {
  if (Number.isNaN(f) || !(d1 > 0) || !(d2 > 0)) return Number.NaN;
  if (f <= 0) return 1;
  if (f === Number.POSITIVE_INFINITY) return 0;
  return betainc(d2 / (d2 + d1 * f), d2 / 2, d1 / 2, true, false);
}

/** P(T > t) for T ~ Student t with df degrees of freedom (one-sided upper tail). */
export function tUpperTail(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (t === Number.POSITIVE_INFINITY) return 0;
  if (t === Number.NEGATIVE_INFINITY) return 1;
  const half = 0.5 * betainc(df / (df + t * t), df / 2, 0.5, true, false);
  return t >= 0 ? half : 1 - half;
}

/** Two-sided p-value P(|T| > |t|) for T ~ Student t with df degrees of freedom. */
export function tTwoSidedP(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return Number.NaN;
  if (!Number.isFinite(t)) return 0;
  return betainc(df / (df + t * t), df / 2, 0.5, true, false);
}

/** P(X > x) for X ~ chi-square with df degrees of freedom: Q(df/2, x/2). */
export function chiSquareUpperTail(x: number, df: number): number {
  if (Number.isNaN(x) || !(df > 0)) return Number.NaN;
  if (x <= 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  return gammainc(x / 2, df / 2, true, true);
}

/**
 * The t quantile q with P(T > q) = upper, for 0 < upper < 1 (e.g. upper = 0.025 gives the
 * 97.5 % point used by a 95 % interval). Found by bisection on the exact upper tail, run until
 * the bracket cannot shrink any further in double precision.
 */
export function tUpperQuantile(upper: number, df: number): number {
  if (!(upper > 0 && upper < 1) || !(df > 0)) return Number.NaN;
  if (upper === 0.5) return 0;
  if (upper > 0.5) return -tUpperQuantile(1 - upper, df);
  // tail(q) decreases in q; find a bracket [lo, hi] with tail(lo) >= upper >= tail(hi)
  let lo = 0;
  let hi = 1;
  while (tUpperTail(hi, df) > upper) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return Number.POSITIVE_INFINITY;
  }
  for (;;) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (tUpperTail(mid, df) > upper) lo = mid;
    else hi = mid;
  }
  // pick the end of the final bracket whose tail is closest to the target
  return Math.abs(tUpperTail(lo, df) - upper) <= Math.abs(tUpperTail(hi, df) - upper) ? lo : hi;
}
