/**
 * Per-variant fold summary: n, mean, sample standard deviation (n − 1) and a t-based 95 % CI.
 * Computed on the values rescaled by a power of two (exact), so huge or tiny scores do not
 * overflow or underflow on the way; a result that itself exceeds float64 comes out infinite.
 */
import { mean, sampleStandardDeviation } from "simple-statistics";
import { tUpperQuantile } from "./distributions.js";
import { unitScale } from "./unit-scale.js";

export interface VariantSummary {
  n: number;
  mean: number;
  sd: number;
  /** 95 % confidence interval of the mean: mean ± t(0.975, n − 1) · sd / √n. */
  ci95: [number, number];
}

export function summarise(values: readonly number[]): VariantSummary {
  const n = values.length;
  const scale = unitScale(values);
  const scaled = values.map((v) => v * scale);
  const m = mean(scaled);
  const sd = n > 1 ? sampleStandardDeviation(scaled) : Number.NaN;
  const half = tUpperQuantile(0.025, n - 1) * (sd / Math.sqrt(n));
  return { n, mean: m / scale, sd: sd / scale, ci95: [(m - half) / scale, (m + half) / scale] };
}
