/**
 * Fréchet Inception Distance between two feature sets, computed exactly at any sample size.
 *
 *   FID = ‖μa − μb‖² + tr Σa + tr Σb − 2 tr √(Σa Σb)
 *
 * Σ uses the unbiased (n − 1) normalisation, as in pytorch-fid / clean-fid (np.cov).
 * No matrix square root is taken: with A, B the centred feature matrices divided by √(n − 1)
 * (so Σa = AᵀA, Σb = BᵀB), the eigenvalues of Σa Σb = AᵀA BᵀB are the squared singular values
 * of A Bᵀ (an n_a × n_b matrix), hence tr √(Σa Σb) = Σ singular values of A Bᵀ. This holds
 * for rank-deficient covariances too (n < d), where scipy's sqrtm is inaccurate.
 * When a set has more samples than features (n > d), its matrix is first replaced by the R
 * factor of its QR decomposition (A = QR, Q orthonormal columns), which leaves the singular
 * values of A Bᵀ unchanged and keeps the SVD at most d × d. Everything is float64; features far
 * outside ordinary magnitudes (1e200, 1e-200) are rescaled exactly first (feature-scale.ts), so a
 * FID that fits in float64 is computed, and one that does not comes out Infinity.
 */
import { Matrix, SingularValueDecomposition } from "ml-matrix";
import { checkFeaturePair, type FeatureRows } from "./feature-rows.js";
import { rescaleForFid } from "./feature-scale.js";
import { householderR } from "./r-factor.js";

/** The terms of the FID sum, for reports and tests. */
export interface FidTerms {
  fid: number;
  /** ‖μa − μb‖² */
  meanDistance: number;
  /** tr Σa */
  traceA: number;
  /** tr Σb */
  traceB: number;
  /** tr √(Σa Σb) */
  traceSqrtProduct: number;
}

/** FID between feature sets `a` and `b` (rows = samples). Throws UsageError on bad input. */
export function fid(a: FeatureRows, b: FeatureRows): number {
  return fidTerms(a, b).fid;
}

export function fidTerms(setA: FeatureRows, setB: FeatureRows): FidTerms {
  const dims = checkFeaturePair(setA, setB);
  const { a, b, unscaleSquared: back } = rescaleForFid(setA, setB);
  const muA = columnMeans(a, dims);
  const muB = columnMeans(b, dims);
  let meanDistance = 0;
  for (let j = 0; j < dims; j++) meanDistance += (muA[j] - muB[j]) ** 2;
  const A = scaledCentredColumns(a, muA);
  const B = scaledCentredColumns(b, muB);
  const traceA = sumOfSquares(A);
  const traceB = sumOfSquares(B);
  const cross = reduceRows(A).mmul(reduceRows(B).transpose());
  const svd = new SingularValueDecomposition(cross, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true });
  let traceSqrtProduct = 0;
  for (const s of svd.diagonal) traceSqrtProduct += s;
  const fidValue = meanDistance + traceA + traceB - 2 * traceSqrtProduct;
  return { fid: back(fidValue), meanDistance: back(meanDistance), traceA: back(traceA), traceB: back(traceB), traceSqrtProduct: back(traceSqrtProduct) };
}

export function columnMeans(rows: FeatureRows, dims: number): Float64Array {
  const mu = new Float64Array(dims);
  for (const row of rows) for (let j = 0; j < dims; j++) mu[j] += row[j];
  for (let j = 0; j < dims; j++) mu[j] /= rows.length;
  return mu;
}

/** The columns of (X − μ) / √(n − 1), an n × d matrix whose Gram matrix XᵀX is the covariance. */
function scaledCentredColumns(rows: FeatureRows, mu: Float64Array): Float64Array[] {
  const scale = 1 / Math.sqrt(rows.length - 1);
  const columns = Array.from(mu, () => new Float64Array(rows.length));
  rows.forEach((row, i) => {
    for (let j = 0; j < mu.length; j++) columns[j][i] = (row[j] - mu[j]) * scale;
  });
  return columns;
}

function sumOfSquares(columns: readonly Float64Array[]): number {
  let s = 0;
  for (const c of columns) for (const v of c) s += v * v;
  return s;
}

/** A matrix with the same XᵀX as the n × d matrix X given by its columns, and at most d rows (R of QR when n > d). */
function reduceRows(columns: Float64Array[]): Matrix {
  const n = columns.length ? columns[0].length : 0;
  if (n <= columns.length) return new Matrix(columns).transpose();
  return new Matrix(householderR(columns));
}
