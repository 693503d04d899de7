/**
 * Kernel Inception Distance (Bińkowski et al., 2018): the unbiased estimator of the squared
 * maximum mean discrepancy with the polynomial kernel k(x, y) = (xᵀy / d + 1)³,
 *
 *   MMD²_u = Σ_{i≠j} k(a_i, a_j) / (m(m−1)) + Σ_{i≠j} k(b_i, b_j) / (p(p−1)) − 2 Σ_{i,j} k(a_i, b_j) / (m p)
 *
 * averaged over random subsets (m of a, p of b, drawn without replacement). Each side's subset
 * size is capped at that side's n. When both caps apply, every "subset" would be the whole set,
 * so KID is computed once on all samples and its std over subsets is 0.
 * The reported std is the population std (ddof 0) over subsets, as torch-fidelity reports it.
 *
 * The kernel's constant term cancels in MMD²_u (each of its three means contributes 1, 1 and
 * −2), so it is left out: k(x, y) − 1 = t(t² + 3t + 3) with t = xᵀy / d. Same value, but small
 * features (t ≈ 1e-10) keep their digits instead of vanishing beside the 1 (1 + 3e-20 = 1).
 */
import { Rng } from "../engine/rng.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { checkFeaturePair, type FeatureRows } from "./feature-rows.js";

export interface KidOptions {
  /** Number of random subsets (default 100). */
  subsets?: number;
  /** Subset size per side, capped at each side's n (default 1000). */
  subsetSize?: number;
  /** Seed for choosing the subsets (default 0). */
  seed?: number;
}

export interface KidResult {
  /** Mean of MMD²_u over subsets. */
  kid: number;
  /** Std (ddof 0) of MMD²_u over subsets; 0 when one subset covers both whole sets. */
  kid_std: number;
  /** Subsets actually evaluated (1 when the subsets are the whole sets). */
  subsets: number;
  /** Subset sizes used for a and b after capping. */
  subsetSizeA: number;
  subsetSizeB: number;
}

export const KID_DEFAULTS = { subsets: 100, subsetSize: 1000, seed: 0 } as const;

/** Pooled kernel matrices larger than this many entries are not cached (8 bytes each). */
const CACHE_LIMIT = 16_000_000;

/**
 * The polynomial kernel over the pooled samples (a's rows first, then b's), with values
 * computed on first use and cached while the pooled matrix is small enough.
 */
export class PolyKernel {
  readonly nA: number;
  readonly nB: number;
  private readonly rows: Float64Array[];
  private readonly dims: number;
  private readonly cache: Float64Array | null;

  constructor(a: FeatureRows, b: FeatureRows) {
    this.dims = checkFeaturePair(a, b);
    this.nA = a.length;
    this.nB = b.length;
    this.rows = [...a, ...b];
    const n = this.rows.length;
    this.cache = n * n <= CACHE_LIMIT ? new Float64Array(n * n).fill(Number.NaN) : null;
  }

  /** k(x_i, x_j) for pooled indices i, j (b's rows start at nA). */
  value(i: number, j: number): number {
    const n = this.rows.length;
    const key = i <= j ? i * n + j : j * n + i;
    if (this.cache) {
      const v = this.cache[key];
      if (!Number.isNaN(v)) return v;
    }
    const x = this.rows[i], y = this.rows[j];
    let dot = 0;
    for (let k = 0; k < this.dims; k++) dot += x[k] * y[k];
    const t = dot / this.dims;
    const v = t * (t * (t + 3) + 3); // (t + 1)³ − 1: see the header
    if (this.cache) this.cache[key] = v;
    return v;
  }
}

/**
 * Unbiased MMD² between the samples `idxA` (indices into a) and `idxB` (indices into b).
 * A sample is never paired with itself: with repeated indices (a bootstrap resample), pairs of
 * the same sample are left out of the within-set sums, which are averaged over the pairs left.
 * Without repeats this is exactly the estimator above.
 */
export function mmd2Unbiased(kernel: PolyKernel, idxA: readonly number[], idxB: readonly number[]): number {
  const m = idxA.length, p = idxB.length;
  const off = kernel.nA;
  const within = (idx: readonly number[], shift: number): number => {
    let sum = 0, pairs = 0;
    for (let i = 0; i < idx.length; i++)
      for (let j = i + 1; j < idx.length; j++) {
        if (idx[i] === idx[j]) continue;
        sum += kernel.value(shift + idx[i], shift + idx[j]);
        pairs++;
      }
    if (pairs === 0) throw new RuntimeFailure("mmd2Unbiased needs at least 2 distinct samples per side");
    return sum / pairs;
  };
  let kab = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < p; j++) kab += kernel.value(idxA[i], off + idxB[j]);
  return within(idxA, 0) + within(idxB, off) - (2 * kab) / (m * p);
}

/** KID between feature sets `a` and `b`. Pass `kernel` to reuse cached kernel values. */
export function kid(a: FeatureRows, b: FeatureRows, options: KidOptions = {}, kernel: PolyKernel = new PolyKernel(a, b)): KidResult {
  const subsets = options.subsets ?? KID_DEFAULTS.subsets;
  const subsetSize = options.subsetSize ?? KID_DEFAULTS.subsetSize;
  const seed = options.seed ?? KID_DEFAULTS.seed;
  if (!Number.isInteger(subsets) || subsets < 1) throw new UsageError(`KID subsets must be a positive integer, got ${subsets}`);
  if (!Number.isInteger(subsetSize) || subsetSize < 2) throw new UsageError(`KID subset size must be an integer ≥ 2, got ${subsetSize}`);
  const m = Math.min(subsetSize, a.length);
  const p = Math.min(subsetSize, b.length);
  if (m === a.length && p === b.length) {
    const value = mmd2Unbiased(kernel, range(a.length), range(b.length));
    return { kid: value, kid_std: 0, subsets: 1, subsetSizeA: m, subsetSizeB: p };
  }
  const rng = new Rng(seed, "kid-subsets");
  const values: number[] = [];
  for (let s = 0; s < subsets; s++) {
    const idxA = sampleWithoutReplacement(rng, a.length, m);
    const idxB = sampleWithoutReplacement(rng, b.length, p);
    values.push(mmd2Unbiased(kernel, idxA, idxB));
  }
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  return { kid: mean, kid_std: Math.sqrt(variance), subsets, subsetSizeA: m, subsetSizeB: p };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** k distinct indices from [0, n), by a partial Fisher–Yates shuffle. */
function sampleWithoutReplacement(rng: Rng, n: number, k: number): number[] {
  const idx = range(n);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, k);
}
