/**
 * Friedman rank test over a fold × variant matrix: rank the variants within each fold (ties get
 * their average rank), then
 *   chi2 = (12 / (n k (k + 1)) · Σ_j R_j² − 3 n (k + 1)) / c,
 *   c = 1 − Σ_ties (t³ − t) / (n k (k² − 1)),
 * the tie correction scipy.stats.friedmanchisquare applies. df = k − 1, p from the chi-square
 * upper tail. (scipy refuses k = 2; the formula is still valid there and reduces to the sign-test
 * statistic (wins − losses)² / (wins + losses).)
 */
import { chiSquareUpperTail } from "./distributions.js";

export interface Friedman {
  chi2: number;
  df: number;
  p: number;
}

export function friedman(values: readonly (readonly number[])[]): Friedman {
  const n = values.length;
  const k = values[0]!.length;
  const rankSums = new Array<number>(k).fill(0);
  let ties = 0;
  for (const row of values) {
    const { ranks, tieSizes } = averageRanks(row);
    ranks.forEach((r, j) => (rankSums[j]! += r));
    for (const t of tieSizes) ties += t * (t * t - 1);
  }
  const c = 1 - ties / (k * (k * k - 1) * n);
  let sumSq = 0;
  for (const r of rankSums) sumSq += r * r;
  const chi2 = ((12 / (k * n * (k + 1))) * sumSq - 3 * n * (k + 1)) / c;
  const df = k - 1;
  return { chi2, df, p: chiSquareUpperTail(chi2, df) };
}

/** 1-based ranks with ties averaged, plus the size of every group of ≥ 2 equal values. */
export function averageRanks(row: readonly number[]): { ranks: number[]; tieSizes: number[] } {
  const order = row.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(row.length);
  const tieSizes: number[] = [];
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && order[end]!.v === order[start]!.v) end++;
    const avg = (start + 1 + end) / 2; // mean of ranks start+1 .. end
    for (let m = start; m < end; m++) ranks[order[m]!.i] = avg;
    if (end - start > 1) tieSizes.push(end - start);
    start = end;
  }
  return { ranks, tieSizes };
}
