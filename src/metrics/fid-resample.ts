/**
 * FID of many resamples of the same two feature sets (the bootstrap). When both sets are
 * smaller than the feature dimension (the small-sample case), each resample costs O(n²) plus
 * one n_a × n_b SVD, whatever the dimension; otherwise it is fid() on the resampled rows.
 *
 * All samples are shifted by the pooled mean z (FID is translation invariant; the shift keeps
 * the Gram entries at the scale of the spread, so nothing cancels badly), and the Gram matrix
 * G_ij = x̃_i · x̃_j of the pooled samples is computed once. For index lists I (into a) and
 * J (into b), with μa = mean of x̃_I and μb = mean of x̃_J:
 *   μa·μa = Σ_{i,i'∈I} G / n_a²,  μa·μb = Σ_{i∈I, j∈J} G / (n_a n_b)
 *   tr Σa = (Σ_{i∈I} G_ii − n_a μa·μa) / (n_a − 1)
 *   (A Bᵀ)_pq = (G_{I_p J_q} − μa·x̃_{J_q} − x̃_{I_p}·μb + μa·μb) / √((n_a − 1)(n_b − 1))
 * and tr √(Σa Σb) is the sum of singular values of A Bᵀ, as in fid.ts.
 */
import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { checkFeaturePair, type FeatureRows } from "./feature-rows.js";
import { rescaleForFid } from "./feature-scale.js";
import { fid } from "./fid.js";

/** Pooled sample counts above this never use the Gram matrix (its memory is n² doubles). */
const GRAM_LIMIT = 4000;

export class FidResampler {
  private readonly nA: number;
  private readonly nB: number;
  private readonly gram: Float64Array | null;
  private readonly a: FeatureRows;
  private readonly b: FeatureRows;
  /** FID of the rescaled sets → FID of the given ones (see feature-scale.ts). */
  private readonly back: (v: number) => number;

  constructor(setA: FeatureRows, setB: FeatureRows) {
    const dims = checkFeaturePair(setA, setB);
    const { a, b, unscaleSquared } = rescaleForFid(setA, setB);
    this.a = a;
    this.b = b;
    this.back = unscaleSquared;
    this.nA = a.length;
    this.nB = b.length;
    const n = this.nA + this.nB;
    // the Gram route pays off when the sets are smaller than the dimension (an n_a × n_b SVD);
    // otherwise fid() on the resampled rows reduces to a d × d SVD and is the cheaper one
    if (n > GRAM_LIMIT || Math.max(this.nA, this.nB) > dims) {
      this.gram = null;
      return;
    }
    const pooled = [...a, ...b];
    const z = new Float64Array(dims);
    for (const row of pooled) for (let k = 0; k < dims; k++) z[k] += row[k] / n;
    const shifted = pooled.map((row) => row.map((v, k) => v - z[k]));
    const g = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      const x = shifted[i];
      for (let j = i; j < n; j++) {
        const y = shifted[j];
        let s = 0;
        for (let k = 0; k < dims; k++) s += x[k] * y[k];
        g[i * n + j] = s;
        g[j * n + i] = s;
      }
    }
    this.gram = g;
  }

  /** Whether every resample recomputes FID from its rows (large sets), costing about what the point estimate did. */
  get recomputes(): boolean {
    return this.gram === null;
  }

  /** FID between rows idxA of a and rows idxB of b (repeats allowed). */
  fid(idxA: readonly number[], idxB: readonly number[]): number {
    if (!this.gram) return this.back(fid(idxA.map((i) => this.a[i]), idxB.map((j) => this.b[j])));
    const g = this.gram, n = this.nA + this.nB, off = this.nA;
    const I = idxA, J = idxB.map((j) => j + off);
    const na = I.length, nb = J.length;
    // rowA[q] = Σ_{i∈I} G[i, J_q];  rowB[p] = Σ_{j∈J} G[I_p, j]
    const sumAJ = new Float64Array(nb), sumBI = new Float64Array(na);
    let aa = 0, bb = 0, ab = 0, diagA = 0, diagB = 0;
    for (let p = 0; p < na; p++) {
      const base = I[p] * n;
      for (let p2 = 0; p2 < na; p2++) aa += g[base + I[p2]];
      for (let q = 0; q < nb; q++) {
        const v = g[base + J[q]];
        sumAJ[q] += v;
        sumBI[p] += v;
        ab += v;
      }
      diagA += g[base + I[p]];
    }
    for (let q = 0; q < nb; q++) {
      const base = J[q] * n;
      for (let q2 = 0; q2 < nb; q2++) bb += g[base + J[q2]];
      diagB += g[base + J[q]];
    }
    const muAA = aa / (na * na), muBB = bb / (nb * nb), muAB = ab / (na * nb);
    const traceA = (diagA - na * muAA) / (na - 1);
    const traceB = (diagB - nb * muBB) / (nb - 1);
    const scale = 1 / Math.sqrt((na - 1) * (nb - 1));
    const cross = new Matrix(na, nb);
    for (let p = 0; p < na; p++) {
      const base = I[p] * n;
      for (let q = 0; q < nb; q++) cross.set(p, q, (g[base + J[q]] - sumAJ[q] / na - sumBI[p] / nb + muAB) * scale);
    }
    const svd = new SingularValueDecomposition(cross, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true });
    let traceSqrt = 0;
    for (const s of svd.diagonal) traceSqrt += s;
    return this.back(muAA + muBB - 2 * muAB + traceA + traceB - 2 * traceSqrt);
  }
}
