/**
 * Post-hoc comparisons: a paired t-test for every pair of variants (a listed before b), on the
 * per-fold differences a − b, with Holm's step-down adjustment across all pairs and the paired
 * effect size d_z = mean(diff) / sd(diff).
 */
import { tTwoSidedP } from "./distributions.js";
import { columns } from "./anova.js";

export interface PairedTTest {
  t: number;
  df: number;
  /** two-sided */
  p: number;
  d_z: number;
}

export interface PosthocPair extends PairedTTest {
  a: string;
  b: string;
  p_holm: number;
}

export function pairedTTest(a: readonly number[], b: readonly number[]): PairedTTest {
  const n = a.length;
  const diff = a.map((x, i) => x - b[i]!);
  let m = 0;
  for (const d of diff) m += d;
  m /= n;
  let ss = 0;
  for (const d of diff) ss += (d - m) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  const t = m / (sd / Math.sqrt(n));
  const df = n - 1;
  return { t, df, p: tTwoSidedP(t, df), d_z: m / sd };
}

/** Holm-adjusted p-values, in the order given: p_(i) → max over j ≤ i of min(1, (m − j + 1) p_(j)). */
export function holm(p: readonly number[]): number[] {
  const m = p.length;
  // an undefined p (NaN, e.g. zero variance of the differences) sorts last and stays NaN
  const key = (v: number): number => (Number.isNaN(v) ? Number.POSITIVE_INFINITY : v);
  const order = p.map((v, i) => ({ v, i })).sort((x, y) => key(x.v) - key(y.v));
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ v, i }, rank) => {
    if (Number.isNaN(v)) {
      adjusted[i] = Number.NaN;
      return;
    }
    running = Math.max(running, Math.min(1, (m - rank) * v));
    adjusted[i] = running;
  });
  return adjusted;
}

/** Every pair (variants[i], variants[j]), i < j, from values[fold][variant]. */
export function pairwisePosthoc(values: readonly (readonly number[])[], variants: readonly string[]): PosthocPair[] {
  const cols = columns(values);
  const pairs: { a: string; b: string; test: PairedTTest }[] = [];
  for (let i = 0; i < variants.length; i++) {
    for (let j = i + 1; j < variants.length; j++) {
      pairs.push({ a: variants[i]!, b: variants[j]!, test: pairedTTest(cols[i]!, cols[j]!) });
    }
  }
  const adjusted = holm(pairs.map((x) => x.test.p));
  return pairs.map((x, idx) => ({ a: x.a, b: x.b, t: x.test.t, df: x.test.df, p: x.test.p, p_holm: adjusted[idx]!, d_z: x.test.d_z }));
}
