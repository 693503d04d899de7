/**
 * Percentile bootstrap for two-sample statistics (FID, KID): each resample draws n_a rows of a
 * and n_b rows of b with replacement, independently, and evaluates the statistics on them.
 * Resample r uses its own stream `new Rng(seed, "bootstrap", r)`, so results do not depend on
 * the order or number of other resamples. A side drawn with fewer than 2 distinct samples is
 * drawn again from the same stream (a covariance or a within-set kernel mean needs 2). The interval is the (1−level)/2 and (1+level)/2
 * quantiles of the resampled values, with linear interpolation (numpy's default "linear").
 */
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

/**
 * Run `statistics(idxA, idxB)` (which returns one value per statistic) on every resample and
 * return one percentile interval per statistic, in the same order.
 */
export function bootstrapIntervals(
  nA: number,
  nB: number,
  statistics: (idxA: number[], idxB: number[]) => number[],
  options: BootstrapOptions,
): Interval[] {
  const { resamples } = options;
  const seed = options.seed ?? 0;
  const level = options.level ?? 0.95;
  const progress = options.progress ?? silentProgress;
  if (!Number.isInteger(resamples) || resamples < 1) throw new UsageError(`bootstrap resamples must be a positive integer, got ${resamples}`);
  if (nA < 2 || nB < 2) throw new UsageError(`bootstrap needs at least 2 samples per set, got ${nA} and ${nB}`);
  if (!(level > 0 && level < 1)) throw new UsageError(`bootstrap confidence level must be between 0 and 1, got ${level}`);
  const samples: number[][] = [];
  progress.start("bootstrap", resamples);
  try {
    for (let r = 0; r < resamples; r++) {
      const rng = new Rng(seed, "bootstrap", r);
      const idxA = drawWithReplacement(rng, nA);
      const idxB = drawWithReplacement(rng, nB);
      const values = statistics(idxA, idxB);
      values.forEach((v, k) => (samples[k] ??= []).push(v));
      progress.update(r + 1);
    }
  } finally {
    progress.stop();
  }
  return samples.map((values) => [quantile(values, (1 - level) / 2), quantile(values, (1 + level) / 2)]);
}

/** Quantile q ∈ [0, 1] with linear interpolation between order statistics (numpy "linear"). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new UsageError("quantile of an empty list");
  const sorted = [...values].sort((x, y) => x - y);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h), hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** n indices from [0, n) with replacement, redrawn until at least 2 are distinct (n ≥ 2). */
function drawWithReplacement(rng: Rng, n: number): number[] {
  for (;;) {
    const idx = Array.from({ length: n }, () => rng.int(n));
    if (idx.some((i) => i !== idx[0])) return idx;
  }
}
