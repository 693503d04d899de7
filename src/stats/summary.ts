/** Per-variant fold summary: n, mean, sample standard deviation (n − 1) and a t-based 95 % CI. */
import { mean, sampleStandardDeviation } from "simple-statistics";
import { tUpperQuantile } from "./distributions.js";

export interface VariantSummary {
  n: number;
  mean: number;
  sd: number;
  /** 95 % confidence interval of the mean: mean ± t(0.975, n − 1) · sd / √n. */
  ci95: [number, number];
}

export function summarise(values: readonly number[]): VariantSummary {
  const n = values.length;
  const m = mean([...values]);
  const sd = n > 1 ? sampleStandardDeviation([...values]) : Number.NaN;
  const half = tUpperQuantile(0.025, n - 1) * (sd / Math.sqrt(n));
  return { n, mean: m, sd, ci95: [m - half, m + half] };
}
