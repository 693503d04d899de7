/**
 * Exact rescaling of two feature sets for FID, so that its squares stay inside float64.
 *
 * FID squares the features: past |x| ≈ 1e154 the squares overflow (FID comes out Infinity or
 * NaN) and below 1e-154 they underflow to 0. FID(c·a, c·b) = c²·FID(a, b), and multiplying by a
 * power of two c changes only the exponent (exact), so FID computed on the rescaled sets and
 * multiplied by c⁻² is the FID of the given sets — as long as that value itself fits in float64.
 * Sets of ordinary magnitude are passed through untouched (no copy, the same bits).
 */
import type { FeatureRows } from "./feature-rows.js";

/** Largest |x| passed through as is: its squares summed over 10⁹ entries stay far below 1.8e308. */
const PASS_MAX = 2 ** 400;
/** Smallest largest-|x| passed through as is: its squares stay far above the subnormal range. */
const PASS_MIN = 2 ** -400;

export interface RescaledPair {
  a: FeatureRows;
  b: FeatureRows;
  /** Largest |x| over both sets, as given. */
  maxAbs: number;
  /** A squared quantity (FID or one of its terms) of the rescaled sets → the same of the given sets. */
  unscaleSquared(v: number): number;
}

/** The largest |x| over the given sets. */
export function largestMagnitude(...sets: FeatureRows[]): number {
  let max = 0;
  for (const rows of sets) for (const row of rows) for (const x of row) if (Math.abs(x) > max) max = Math.abs(x);
  return max;
}

export function rescaleForFid(a: FeatureRows, b: FeatureRows): RescaledPair {
  const maxAbs = largestMagnitude(a, b);
  if (maxAbs === 0 || !Number.isFinite(maxAbs) || (maxAbs <= PASS_MAX && maxAbs >= PASS_MIN)) return { a, b, maxAbs, unscaleSquared: (v) => v };
  // the largest |x| lands in (½, 1]
  const exponent = Math.ceil(Math.log2(maxAbs));
  const scale = (rows: FeatureRows): Float64Array[] => rows.map((row) => row.map((x) => timesPowerOfTwo(x, -exponent)));
  return { a: scale(a), b: scale(b), maxAbs, unscaleSquared: (v) => timesPowerOfTwo(v, 2 * exponent) };
}

/** v · 2^k, in steps small enough that no factor over- or underflows on its own (2^±1074 would). */
function timesPowerOfTwo(v: number, k: number): number {
  let out = v;
  for (let left = k; left !== 0; ) {
    const step = Math.max(-500, Math.min(500, left));
    out *= 2 ** step;
    left -= step;
  }
  return out;
}
