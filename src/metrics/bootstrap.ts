/**
 * Bootstrap intervals for two-sample statistics (FID, KID), resampled by the exchangeable unit
 * and bias-corrected.
 *
 * Units. A unit is a set of rows of a (real) and of b (generated) that belong together: in an
 * eval, held-out pair i with the images generated from its caption or sketch (generated image
 * j belongs to pair j mod n_held_out). Resampling units keeps that pairing; drawing real and
 * generated images independently breaks it and treats conditioned samples as independent. Units
 * are grouped in strata, each resampled on its own with replacement (its size kept): an eval
 * cell is one stratum of paired units; two unrelated image sets (diffx fid) are two strata of
 * single images, the ordinary two-sample bootstrap.
 *
 * Resample r uses its own stream `new Rng(seed, "bootstrap", r)`, so results do not depend on
 * the order or number of other resamples. A resample with fewer than 2 distinct rows on a side
 * is drawn again from the same stream (a covariance or a within-set kernel mean needs 2).
 *
 * Interval: BCa (Efron & Tibshirani 1993, §14.3 and eq. 14.15; DiCiccio & Efron 1996), computed
 * as scipy.stats.bootstrap(method="BCa") does (scipy 1.10 `_bca_interval`):
 *   z0 = Φ⁻¹(p̂), p̂ = (#{θ*_r < θ̂} + #{θ*_r ≤ θ̂}) / (2B)
 *   per stratum j, leave-one-unit-out jackknife values θ_(i), U_i = (n_j − 1)(θ̄_(·) − θ_(i)),
 *   â = Σ_j Σ_i U_i³ / n_j³ / (6 (Σ_j Σ_i U_i² / n_j²)^{3/2})
 *   α₁,₂ = Φ(z0 + (z0 + z_α)/(1 − â (z0 + z_α))) for z_α = Φ⁻¹(α), Φ⁻¹(1 − α), α = (1 − level)/2
 * and the interval is the α₁ and α₂ quantiles of the θ*_r (linear interpolation, numpy's).
 * FID is biased upwards at small n and a resample that repeats units is more so, so the
 * replicates sit above θ̂ and a plain percentile interval can miss θ̂ altogether; z0 moves the
 * interval down by that median bias. When BCa is undefined (every replicate on one side of θ̂,
 * so z0 is infinite) or still misses θ̂, the interval is the percentile interval shifted by the
 * median bias, [q_lo − (m − θ̂), q_hi − (m − θ̂)] with m the median replicate, and says so.
 */
import erfc from "@stdlib/math-base-special-erfc";
import type { ProgressSink } from "../engine/progress.js";
import { silentProgress } from "../engine/progress.js";
import { Rng } from "../engine/rng.js";
import { UsageError } from "../errors.js";

export interface BootstrapOptions {
  /** Number of resamples (≥ 1). */
  resamples: number;
  /** Seed (default 0). */
  seed?: number;
  /** Confidence level of the interval (default 0.95). */
  level?: number;
  progress?: ProgressSink;
}

export type Interval = [number, number];

/** Rows of a and of b that are resampled together. */
export interface Unit {
  a: readonly number[];
  b: readonly number[];
}

/** How one interval was computed. */
export interface BcaDetail {
  method: "BCa" | "median-bias-shifted percentile";
  /** Bias correction Φ⁻¹(p̂) (±Infinity when every replicate lies on one side). */
  z0: number;
  /** Acceleration from the leave-one-unit-out jackknife. */
  acceleration: number;
  /** Quantile levels of the replicates used as the ends (BCa), or the percentile levels. */
  alphas: [number, number];
  /** Fraction of replicates below the estimate (ties counted half). */
  below: number;
  /** Why the fallback was used (absent for BCa). */
  note?: string;
}

export interface BootstrapInterval {
  estimate: number;
  interval: Interval;
  detail: BcaDetail;
}

/** Every row of a and of b its own unit, a's and b's units in separate strata (unpaired sets). */
export function independentStrata(nA: number, nB: number): Unit[][] {
  return [Array.from({ length: nA }, (_, i) => ({ a: [i], b: [] })), Array.from({ length: nB }, (_, j) => ({ a: [], b: [j] }))];
}

/**
 * Units of an eval cell: real row i with the generated rows j, j mod nReal = i (generated image
 * j is conditioned on held-out pair j mod n_held_out). One stratum.
 */
export function pairedUnits(nReal: number, nGenerated: number): Unit[][] {
  return [Array.from({ length: nReal }, (_, i) => ({ a: [i], b: Array.from({ length: Math.ceil(Math.max(0, nGenerated - i) / nReal) }, (_, m) => i + m * nReal) }))];
}

/**
 * Run `statistics(idxA, idxB)` (one value per statistic) on the full sets, on every resample of
 * the units and on every leave-one-unit-out jackknife set, and return one BCa interval per
 * statistic, in order.
 */
export function bootstrapIntervals(strata: readonly (readonly Unit[])[], statistics: (idxA: number[], idxB: number[]) => number[], options: BootstrapOptions): BootstrapInterval[] {
  const { resamples } = options;
  const seed = options.seed ?? 0;
  const level = options.level ?? 0.95;
  const progress = options.progress ?? silentProgress;
  if (!Number.isInteger(resamples) || resamples < 1) throw new UsageError(`bootstrap resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new UsageError(`bootstrap confidence level must be between 0 and 1, got ${level}`);
  const all = strata.flat();
  const [fullA, fullB] = gather(all);
  if (distinct(fullA) < 2 || distinct(fullB) < 2) throw new UsageError(`bootstrap needs at least 2 samples per set, got ${distinct(fullA)} and ${distinct(fullB)}`);
  if (strata.some((s) => s.length < 2)) throw new UsageError("bootstrap needs at least 2 units in every stratum");
  const estimates = statistics(fullA, fullB);

  const replicates: number[][] = estimates.map(() => []);
  progress.start("bootstrap", resamples);
  try {
    for (let r = 0; r < resamples; r++) {
      const rng = new Rng(seed, "bootstrap", r);
      let idxA: number[], idxB: number[];
      do {
        const drawn = strata.flatMap((units) => Array.from({ length: units.length }, () => units[rng.int(units.length)]!));
        [idxA, idxB] = gather(drawn);
      } while (distinct(idxA) < 2 || distinct(idxB) < 2);
      statistics(idxA, idxB).forEach((v, k) => replicates[k]!.push(v));
      progress.update(r + 1);
    }
  } finally {
    progress.stop();
  }

  const jack = jackknife(strata, statistics, estimates.length);
  return estimates.map((est, k) => bcaInterval(est, replicates[k]!, jack[k]!, level));
}

/** The rows of a and of b of a list of units (repeats kept). */
export function gather(units: readonly Unit[]): [number[], number[]] {
  return [units.flatMap((u) => u.a), units.flatMap((u) => u.b)];
}

/**
 * Leave-one-unit-out values within each stratum: result[statistic][stratum][i] is the statistic
 * without unit i of that stratum. A deletion leaving < 2 distinct rows on a side is skipped.
 */
export function jackknife(strata: readonly (readonly Unit[])[], statistics: (idxA: number[], idxB: number[]) => number[], count: number): number[][][] {
  const out: number[][][] = Array.from({ length: count }, () => strata.map(() => []));
  strata.forEach((units, s) => {
    units.forEach((_, i) => {
      const [idxA, idxB] = gather(strata.flatMap((other, t) => (t === s ? other.filter((__, m) => m !== i) : other)));
      if (distinct(idxA) < 2 || distinct(idxB) < 2) return;
      statistics(idxA, idxB).forEach((v, k) => out[k]![s]!.push(v));
    });
  });
  return out;
}

/** The BCa interval from the estimate, the bootstrap replicates and per-stratum jackknife values. */
export function bcaInterval(estimate: number, replicates: readonly number[], jackknife: readonly (readonly number[])[], level: number): BootstrapInterval {
  const B = replicates.length;
  let less = 0, lessEq = 0;
  for (const v of replicates) {
    if (v < estimate) less++;
    if (v <= estimate) lessEq++;
  }
  const below = (less + lessEq) / (2 * B);
  const z0 = normalQuantile(below);
  let num = 0, den = 0;
  for (const values of jackknife) {
    const n = values.length;
    if (n === 0) continue;
    const mean = values.reduce((s, v) => s + v, 0) / n;
    for (const v of values) {
      const u = (n - 1) * (mean - v);
      num += u ** 3 / n ** 3;
      den += u ** 2 / n ** 2;
    }
  }
  const a = den > 0 ? num / (6 * den ** 1.5) : 0;
  const alpha = (1 - level) / 2;
  const adjust = (z: number): number => normalCdf(z0 + (z0 + z) / (1 - a * (z0 + z)));
  const alphas: [number, number] = [adjust(normalQuantile(alpha)), adjust(normalQuantile(1 - alpha))];
  const sorted = [...replicates].sort((x, y) => x - y);
  if (Number.isFinite(z0) && alphas.every((p) => p >= 0 && p <= 1)) {
    const interval: Interval = [sortedQuantile(sorted, alphas[0]), sortedQuantile(sorted, alphas[1])];
    if (interval[0] <= estimate && estimate <= interval[1]) return { estimate, interval, detail: { method: "BCa", z0, acceleration: a, alphas, below } };
  }
  const shift = sortedQuantile(sorted, 0.5) - estimate;
  const note = Number.isFinite(z0)
    ? `the BCa interval did not contain the estimate (z0 = ${z0.toFixed(3)}, acceleration ${a.toFixed(3)})`
    : `BCa is undefined: all ${B} replicates lie ${below === 0 ? "above" : "below"} the estimate`;
  return {
    estimate,
    interval: [sortedQuantile(sorted, alpha) - shift, sortedQuantile(sorted, 1 - alpha) - shift],
    detail: { method: "median-bias-shifted percentile", z0, acceleration: a, alphas: [alpha, 1 - alpha], below, note },
  };
}

/** Quantile q ∈ [0, 1] with linear interpolation between order statistics (numpy "linear"). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new UsageError("quantile of an empty list");
  return sortedQuantile([...values].sort((x, y) => x - y), q);
}

function sortedQuantile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Φ(z) = ½ erfc(−z/√2). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/**
 * Φ⁻¹(p): Acklam's rational approximation (relative error < 1.2e−9) refined by two Halley steps
 * on Φ (erfc-based), which brings it to double precision; ±Infinity at 0 and 1.
 */
export function normalQuantile(p: number): number {
  if (p <= 0) return p === 0 ? Number.NEGATIVE_INFINITY : Number.NaN;
  if (p >= 1) return p === 1 ? Number.POSITIVE_INFINITY : Number.NaN;
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  let x: number;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else if (p <= 1 - pLow) {
    const q = p - 0.5, r = q * q;
    x = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  for (let i = 0; i < 2; i++) {
    // Halley's step on f(x) = Φ(x) − p; for x > 0 written as (1 − p) − Q(x) with the upper tail Q
    const e = x > 0 ? 1 - p - 0.5 * erfc(x / Math.SQRT2) : normalCdf(x) - p;
    const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
    x = x - u / (1 + (x * u) / 2);
  }
  return x;
}

function distinct(idx: readonly number[]): number {
  return new Set(idx).size;
}
