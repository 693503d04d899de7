/**
 * Friedman rank test over a fold × variant matrix: rank the variants within each fold (ties get
 * their average rank), then
 *   chi2 = (12 / (n k (k + 1)) · Σ_j R_j² − 3 n (k + 1)) / c,
 *   c = 1 − Σ_ties (t³ − t) / (n k (k² − 1)),
 * the tie correction scipy.stats.friedmanchisquare applies. df = k − 1. (scipy refuses k = 2;
 * the formula is still valid there and reduces to the sign-test statistic
 * (wins − losses)² / (wins + losses).)
 *
 * The χ² approximation is poor at the fold counts of a cross-validation (at k = 2 and 5 folds it
 * gives p = 0.025 where no test on 5 folds can go below 0.0625). With at most
 * EXACT_MAX_FOLDS folds the p-value is the exact permutation p instead: under H0 the ranks
 * within each fold are exchangeable, so each fold's observed rank vector (ties kept as they
 * are) is equally likely in any of its k! orders, independently across folds, and
 *   p = P(Σ_j R_j² ≥ observed)
 * over those (k!)^n equally likely tables. With n and c fixed, chi2 is increasing in Σ R_j², so
 * this is the upper tail of chi2. The distribution of the rank-sum vector is built fold by fold
 * (a convolution over the fold's distinct orders, ranks doubled to integers so sums are exact);
 * since it is exchangeable in the variants, each partial vector is kept sorted, which divides
 * the states by up to k!. When even that is too many states (many variants), the p-value is a
 * seeded Monte-Carlo permutation estimate (b + 1) / (B + 1) (Phipson & Smyth 2010) with its
 * Monte-Carlo standard error stated.
 */
import { Rng } from "../engine/rng.js";
import { chiSquareUpperTail } from "./distributions.js";

/** Folds up to which the exact (or Monte-Carlo permutation) p-value is the one reported. */
export const EXACT_MAX_FOLDS = 10;
/** Most sorted rank-sum states the exact convolution keeps before it gives way to Monte Carlo. */
const MAX_STATES = 400_000;
/** Monte-Carlo permutations when enumeration is too large. */
export const MC_PERMUTATIONS = 100_000;
/** Seed of the Monte-Carlo permutations (the result depends only on the table). */
const MC_SEED = 20240616;

export interface FriedmanExact {
  /** "enumeration": exact over all (k!)^n within-fold orders; "monte-carlo": seeded random orders. */
  method: "enumeration" | "monte-carlo";
  p: number;
  /** Equally likely tables counted (enumeration: (k!)^n) or permutations drawn (Monte Carlo). */
  permutations: number;
  /** Monte-Carlo standard error √(p(1 − p)/B); null for enumeration. */
  mc_se: number | null;
}

export interface Friedman {
  chi2: number;
  df: number;
  /** The p-value to read: the exact one when folds ≤ EXACT_MAX_FOLDS, else the χ² approximation. */
  p: number;
  p_method: "exact" | "monte-carlo" | "chi-square";
  /** Upper tail of χ²(k − 1) at chi2 (asymptotic; optimistic at few folds). */
  p_chi2: number;
  /** Permutation p-value, null above EXACT_MAX_FOLDS folds. */
  exact: FriedmanExact | null;
}

export interface FriedmanOptions {
  /** Force Monte Carlo (tests), or change its number of permutations. */
  monteCarlo?: boolean;
  permutations?: number;
}

export function friedman(values: readonly (readonly number[])[], options: FriedmanOptions = {}): Friedman {
  const n = values.length;
  const k = values[0]!.length;
  const rankSums = new Array<number>(k).fill(0);
  let ties = 0;
  const rowRanks: number[][] = [];
  for (const row of values) {
    const { ranks, tieSizes } = averageRanks(row);
    rowRanks.push(ranks);
    ranks.forEach((r, j) => (rankSums[j]! += r));
    for (const t of tieSizes) ties += t * (t * t - 1);
  }
  const c = 1 - ties / (k * (k * k - 1) * n);
  let sumSq = 0;
  for (const r of rankSums) sumSq += r * r;
  const chi2 = ((12 / (k * n * (k + 1))) * sumSq - 3 * n * (k + 1)) / c;
  const df = k - 1;
  const pChi2 = chiSquareUpperTail(chi2, df);
  const exact = n <= EXACT_MAX_FOLDS && c > 0 ? friedmanPermutationP(rowRanks, options) : null;
  return {
    chi2,
    df,
    p: exact ? exact.p : pChi2,
    p_method: exact ? (exact.method === "enumeration" ? "exact" : "monte-carlo") : "chi-square",
    p_chi2: pChi2,
    exact,
  };
}

/**
 * Permutation p-value of the Friedman statistic given each fold's (average) ranks.
 * Exact enumeration when the sorted-state convolution stays small, otherwise Monte Carlo.
 */
export function friedmanPermutationP(rowRanks: readonly (readonly number[])[], options: FriedmanOptions = {}): FriedmanExact {
  const doubled = rowRanks.map((r) => r.map((x) => Math.round(2 * x)));
  const k = doubled[0]!.length;
  const observed = new Array<number>(k).fill(0);
  for (const row of doubled) row.forEach((x, j) => (observed[j]! += x));
  const stat = (sums: readonly number[]): number => sums.reduce((s, x) => s + x * x, 0);
  const target = stat(observed);
  if (!options.monteCarlo) {
    const p = enumerate(doubled, target, stat);
    if (p !== null) return { method: "enumeration", p, permutations: factorial(k) ** doubled.length, mc_se: null };
  }
  const B = options.permutations ?? MC_PERMUTATIONS;
  const rng = new Rng(MC_SEED, "friedman-permutations", doubled.length, k);
  let hits = 0;
  const sums = new Array<number>(k);
  const work = doubled.map((r) => [...r]);
  for (let b = 0; b < B; b++) {
    sums.fill(0);
    for (const row of work) {
      rng.shuffle(row);
      for (let j = 0; j < k; j++) sums[j]! += row[j]!;
    }
    if (stat(sums) >= target) hits++;
  }
  const p = (hits + 1) / (B + 1);
  return { method: "monte-carlo", p, permutations: B, mc_se: Math.sqrt((p * (1 - p)) / B) };
}

/** Exact P(stat ≥ target) by convolution over sorted rank-sum vectors; null when too many states. */
function enumerate(doubled: readonly (readonly number[])[], target: number, stat: (s: readonly number[]) => number): number | null {
  const k = doubled[0]!.length;
  // a sorted sum vector as one number (mixed radix) when that is exact, else as text
  const base = doubled.reduce((s, row) => s + Math.max(...row), 0) + 1;
  const numeric = Math.pow(base, k) < Number.MAX_SAFE_INTEGER;
  const keyOf = (s: readonly number[]): number | string => (numeric ? s.reduce((acc, x) => acc * base + x, 0) : s.join(","));
  // a row of k distinct ranks has k! orders: listing them for a wide table (k = 100) would never end
  if (doubled.some((row) => distinctOrderCount(row) > MAX_STATES)) return null;
  let states = new Map<number | string, { sums: number[]; prob: number }>();
  const zero = new Array<number>(k).fill(0);
  states.set(keyOf(zero), { sums: zero, prob: 1 });
  for (const row of doubled) {
    const orders = distinctPermutations(row);
    const weight = 1 / orders.length;
    const next = new Map<number | string, { sums: number[]; prob: number }>();
    for (const { sums, prob } of states.values()) {
      for (const order of orders) {
        const s = sums.map((x, j) => x + order[j]!).sort((a, b) => a - b);
        const key = keyOf(s);
        const old = next.get(key);
        if (old) old.prob += prob * weight;
        else next.set(key, { sums: s, prob: prob * weight });
      }
      if (next.size > MAX_STATES) return null;
    }
    states = next;
  }
  let p = 0;
  for (const { sums, prob } of states.values()) if (stat(sums) >= target) p += prob;
  return Math.min(1, p);
}

/**
 * The distinct orders of a row's values, each listed once. Every order of a row with tie groups
 * of sizes t_1, t_2, … arises t_1!·t_2!·… times among the k! permutations, the same number for
 * every distinct order, so the distinct orders are equally likely.
 */
export function distinctPermutations(row: readonly number[]): number[][] {
  const sorted = [...row].sort((a, b) => a - b);
  const out: number[][] = [];
  const used = new Array<boolean>(sorted.length).fill(false);
  const cur: number[] = [];
  const rec = (): void => {
    if (cur.length === sorted.length) {
      out.push([...cur]);
      return;
    }
    for (let i = 0; i < sorted.length; i++) {
      if (used[i] || (i > 0 && sorted[i] === sorted[i - 1] && !used[i - 1])) continue;
      used[i] = true;
      cur.push(sorted[i]!);
      rec();
      cur.pop();
      used[i] = false;
    }
  };
  rec();
  return out;
}

/** k! / (t₁! t₂! …) for a row with tie groups t₁, t₂, …: its number of distinct orders (may be Infinity). */
function distinctOrderCount(row: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const x of row) counts.set(x, (counts.get(x) ?? 0) + 1);
  let orders = factorial(row.length);
  for (const t of counts.values()) orders /= factorial(t);
  return orders;
}

function factorial(k: number): number {
  let f = 1;
  for (let i = 2; i <= k; i++) f *= i;
  return f;
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
