/**
 * Analyses of variance for a fold × variant matrix (values[fold][variant]).
 * - repeated measures: folds are subjects, variants the within-subject factor; the fold-to-fold
 *   level is removed from the error term, with the Greenhouse–Geisser sphericity correction.
 * - one-way: variants as independent groups. It ignores that every variant is scored on the
 *   same folds, so it is not part of the analysis of an eval (analyse.ts); kept for comparison.
 *
 * Effect sizes: partial η² = SS_variant / (SS_variant + SS_error) depends on how much of the
 * fold-to-fold variation the design removes; generalized η² (Olejnik & Algina 2003; Bakeman
 * 2005) = SS_variant / (SS_variant + SS_folds + SS_error) is comparable across designs.
 */
import { fUpperTail } from "./distributions.js";

export interface RmAnova {
  F: number;
  df1: number;
  df2: number;
  p: number;
  /** Greenhouse–Geisser ε in [1/(k−1), 1]; exactly 1 when k = 2. */
  epsilon_gg: number;
  /** p with both degrees of freedom multiplied by ε. */
  p_gg: number;
  /** SS_variant / (SS_variant + SS_error). */
  partial_eta2: number;
  /** SS_variant / (SS_variant + SS_folds + SS_error) (one within-fold factor, folds measured). */
  generalized_eta2: number;
}

export interface OneWayAnova {
  F: number;
  df1: number;
  df2: number;
  p: number;
  /** SS_between / SS_total. */
  eta2: number;
}

export function repeatedMeasuresAnova(values: readonly (readonly number[])[]): RmAnova {
  const n = values.length;
  const k = values[0]!.length;
  const grand = meanOf(values.flat());
  const foldMeans = values.map(meanOf);
  const variantMeans = columns(values).map(meanOf);
  let ssVariant = 0;
  for (const m of variantMeans) ssVariant += n * (m - grand) ** 2;
  let ssFolds = 0;
  for (const m of foldMeans) ssFolds += k * (m - grand) ** 2;
  let ssError = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) ssError += (values[i]![j]! - foldMeans[i]! - variantMeans[j]! + grand) ** 2;
  }
  const df1 = k - 1;
  const df2 = (k - 1) * (n - 1);
  const F = ssVariant / df1 / (ssError / df2);
  const epsilon = greenhouseGeisserEpsilon(values);
  return {
    F,
    df1,
    df2,
    p: fUpperTail(F, df1, df2),
    epsilon_gg: epsilon,
    p_gg: fUpperTail(F, epsilon * df1, epsilon * df2),
    partial_eta2: ssVariant / (ssVariant + ssError),
    generalized_eta2: ssVariant / (ssVariant + ssFolds + ssError),
  };
}

/**
 * Greenhouse–Geisser ε from the k × k sample covariance S of the variants across folds:
 * double-centre it (S*_ij = S_ij − rowmean_i − rowmean_j + grandmean, i.e. C S C with
 * C = I − J/k), then ε = (tr S*)² / ((k − 1) · Σ_ij S*_ij²).
 */
export function greenhouseGeisserEpsilon(values: readonly (readonly number[])[]): number {
  const k = values[0]!.length;
  if (k === 2) return 1;
  const s = covariance(values);
  const rowMean = s.map(meanOf);
  const grand = meanOf(rowMean);
  let trace = 0;
  let sumSq = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const c = s[i]![j]! - rowMean[i]! - rowMean[j]! + grand;
      sumSq += c * c;
      if (i === j) trace += c;
    }
  }
  return (trace * trace) / ((k - 1) * sumSq);
}

export function oneWayAnova(groups: readonly (readonly number[])[]): OneWayAnova {
  const all = groups.flat();
  const grand = meanOf(all);
  let ssBetween = 0;
  let ssWithin = 0;
  for (const g of groups) {
    const m = meanOf(g);
    ssBetween += g.length * (m - grand) ** 2;
    for (const x of g) ssWithin += (x - m) ** 2;
  }
  const df1 = groups.length - 1;
  const df2 = all.length - groups.length;
  const F = ssBetween / df1 / (ssWithin / df2);
  return { F, df1, df2, p: fUpperTail(F, df1, df2), eta2: ssBetween / (ssBetween + ssWithin) };
}

/** Sample covariance (n − 1) of the columns of values[row][column]. */
function covariance(values: readonly (readonly number[])[]): number[][] {
  const n = values.length;
  const cols = columns(values);
  const means = cols.map(meanOf);
  return cols.map((a, i) =>
    cols.map((b, j) => {
      let s = 0;
      for (let r = 0; r < n; r++) s += (a[r]! - means[i]!) * (b[r]! - means[j]!);
      return s / (n - 1);
    }),
  );
}

export function columns(values: readonly (readonly number[])[]): number[][] {
  const k = values[0]!.length;
  return Array.from({ length: k }, (_, j) => values.map((row) => row[j]!));
}

function meanOf(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}
