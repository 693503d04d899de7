/**
 * One call for what a report needs about two feature sets: FID, KID (mean and std over
 * subsets), optional bootstrap confidence intervals for both (BCa, resampled by the exchangeable
 * unit: see bootstrap.ts), and the small-sample caveats that apply, as strings (never printed
 * here).
 */
import type { ProgressSink } from "../engine/progress.js";
import { UsageError } from "../errors.js";
import { bootstrapIntervals, independentStrata, type BcaDetail, type Interval, type Unit } from "./bootstrap.js";
import { checkFeaturePair, type FeatureRows } from "./feature-rows.js";
import { largestMagnitude } from "./feature-scale.js";
import { fid } from "./fid.js";
import { FidResampler } from "./fid-resample.js";
import { kid, KID_DEFAULTS, mmd2Unbiased, PolyKernel, type KidOptions } from "./kid.js";

export interface CompareOptions {
  kid?: KidOptions;
  /**
   * Bootstrap CIs for FID and KID; omitted or resamples 0 = no intervals. `strata` are the
   * exchangeable units (default: every image its own unit, a and b resampled separately), and
   * `unit` says in words what one unit is. When every resample recomputes FID (large sets) and
   * the resamples would take longer than `warnAfterSeconds` (default 300) at the point
   * estimate's speed, a warning with the estimate goes to `progress` before they start.
   */
  bootstrap?: { resamples: number; seed?: number; level?: number; strata?: Unit[][]; unit?: string; warnAfterSeconds?: number };
  /** Names of the two sets in error messages (e.g. file paths). */
  labels?: [string, string];
  progress?: ProgressSink;
}

export interface FeatureComparison {
  fid: number;
  kid: number;
  kid_std: number;
  n_a: number;
  n_b: number;
  dims: number;
  kid_subsets: number;
  kid_subset_size: [number, number];
  /** Bias-corrected (BCa) bootstrap intervals at `ci_level` (absent without bootstrap). */
  fid_ci?: Interval;
  kid_ci?: Interval;
  ci_level?: number;
  bootstrap_resamples?: number;
  /** How each interval was computed: the resampled unit, BCa's z0 and acceleration, fallbacks. */
  ci_detail?: CiDetail;
  warnings: string[];
}

export interface CiDetail {
  /** What one resampled unit is. */
  unit: string;
  /** Units per stratum (each stratum resampled on its own). */
  units: number[];
  fid: BcaDetail;
  kid: BcaDetail;
}

export function compareFeatures(a: FeatureRows, b: FeatureRows, options: CompareOptions = {}): FeatureComparison {
  const [labelA, labelB] = options.labels ?? ["a", "b"];
  const dims = checkFeaturePair(a, b, labelA, labelB);
  const kernel = new PolyKernel(a, b);
  const started = performance.now();
  const fidValue = fid(a, b);
  const fidSeconds = (performance.now() - started) / 1000;
  const k = kid(a, b, options.kid, kernel);
  const result: FeatureComparison = {
    fid: fidValue,
    kid: k.kid,
    kid_std: k.kid_std,
    n_a: a.length,
    n_b: b.length,
    dims,
    kid_subsets: k.subsets,
    kid_subset_size: [k.subsetSizeA, k.subsetSizeB],
    warnings: [],
  };
  checkRepresentable(result, a, b, labelA, labelB); // before the bootstrap: a FID of 1e400 needs no 1000 resamples to be refused
  const boot = options.bootstrap;
  if (boot && boot.resamples > 0) {
    const level = boot.level ?? 0.95;
    const resampler = new FidResampler(a, b);
    const slow = resampler.recomputes ? slowBootstrapWarning(boot.resamples, fidSeconds, result, boot.warnAfterSeconds ?? 300) : null;
    if (slow) options.progress?.warn(slow);
    const strata = boot.strata ?? independentStrata(a.length, b.length);
    const [fidCi, kidCi] = bootstrapIntervals(
      strata,
      (idxA, idxB) => [resampler.fid(idxA, idxB), mmd2Unbiased(kernel, idxA, idxB)],
      { resamples: boot.resamples, seed: boot.seed ?? options.kid?.seed ?? KID_DEFAULTS.seed, level, progress: options.progress },
    );
    const ciDetail: CiDetail = {
      unit: boot.unit ?? (boot.strata ? "a unit of rows given by the caller" : "one image (each set resampled on its own: the two-sample bootstrap)"),
      units: strata.map((s) => s.length),
      fid: fidCi!.detail,
      kid: kidCi!.detail,
    };
    Object.assign(result, { fid_ci: fidCi!.interval, kid_ci: kidCi!.interval, ci_level: level, bootstrap_resamples: boot.resamples, ci_detail: ciDetail });
  }
  checkRepresentable(result, a, b, labelA, labelB);
  result.warnings = [...smallSampleWarnings(result), ...underflowWarnings(result, a, b, labelA, labelB)];
  return result;
}

/** The bootstrap's expected time when every resample is a full FID, if it exceeds `limit` seconds. */
function slowBootstrapWarning(resamples: number, fidSeconds: number, r: Pick<FeatureComparison, "n_a" | "n_b" | "dims">, limit: number): string | null {
  const total = resamples * fidSeconds;
  if (total < limit) return null;
  const about = total < 5400 ? `${Math.max(1, Math.round(total / 60))} min` : `${(total / 3600).toFixed(1)} h`;
  return `bootstrap: each of the ${resamples} resamples recomputes FID on ${r.n_a} + ${r.n_b} rows of ${r.dims} features (the estimate itself took ${fidSeconds.toFixed(1)} s), about ${about} in all; ask for fewer resamples (diffx fid --bootstrap N; 200 give a usable 95 % interval, 0 none)`;
}

/** Below this, a FID or KID (a sum of squares) has lost digits to float64's subnormal range. */
const MIN_NORMAL = 2 ** -1022;

/** Features so small that FID or KID underflow to (nearly) 0 although the sets differ. */
function underflowWarnings(r: FeatureComparison, a: FeatureRows, b: FeatureRows, labelA: string, labelB: string): string[] {
  const max = largestMagnitude(a, b);
  if (max === 0 || max >= 1e-150 || (Math.abs(r.fid) >= MIN_NORMAL && Math.abs(r.kid) >= MIN_NORMAL)) return [];
  return [
    `the features of ${labelA} and ${labelB} are at most ±${max.toExponential(1)}: FID and KID (which grow with their square) fall below float64's smallest normal number, so they lose digits or show as 0 even where the sets differ. Multiply both sets by the same constant c (FID multiplies by c²).`,
  ];
}

/**
 * Refuse, naming the cause, a comparison whose FID or KID does not fit in float64 (features of
 * magnitude 1e200 give a FID near 1e400; KID's cubic kernel overflows from about 1e51), rather
 * than report Infinity or NaN.
 */
function checkRepresentable(r: FeatureComparison, a: FeatureRows, b: FeatureRows, labelA: string, labelB: string): void {
  const finite = (...v: (number | undefined)[]): boolean => v.every((x) => x === undefined || Number.isFinite(x));
  const fidOk = finite(r.fid, ...(r.fid_ci ?? []));
  const kidOk = finite(r.kid, r.kid_std, ...(r.kid_ci ?? []));
  if (fidOk && kidOk) return;
  const size = `the features of ${labelA} and ${labelB} reach ±${largestMagnitude(a, b).toExponential(1)}`;
  if (!fidOk) {
    throw new UsageError(`FID of ${labelA} and ${labelB} is beyond the float64 range (±1.8e308): ${size}, and FID grows with the square of their scale. Divide both sets by the same constant c (FID divides by c²).`);
  }
  throw new UsageError(
    `KID of ${labelA} and ${labelB} is beyond the float64 range (±1.8e308): ${size}, and KID's kernel (xᵀy/d + 1)³ grows with the sixth power of their scale. ` +
      `Divide both sets by the same constant; KID is not scale-invariant, so compare only KIDs of sets scaled alike.`,
  );
}

/** The caveats that apply to a comparison of this size. */
export function smallSampleWarnings(r: Pick<FeatureComparison, "n_a" | "n_b" | "dims" | "kid_subset_size" | "fid" | "fid_ci" | "kid_ci">): string[] {
  const out: string[] = [];
  const small = [r.n_a < r.dims ? `n_a = ${r.n_a}` : "", r.n_b < r.dims ? `n_b = ${r.n_b}` : ""].filter(Boolean);
  if (small.length > 0) {
    out.push(
      `${small.join(" and ")} below the feature dimension ${r.dims}: the covariance estimates are rank-deficient. ` +
        `FID is still computed exactly, but it is biased upwards at small n; compare it only with FIDs computed at the same n with the same extractor (KID is unbiased).`,
    );
  }
  if (r.kid_subset_size[0] === r.n_a && r.kid_subset_size[1] === r.n_b) {
    out.push(`KID subsets would be the whole sets (subset size ≥ n), so KID was computed once on all samples and kid_std is 0${r.kid_ci ? "; see the bootstrap interval for its uncertainty" : ""}.`);
  }
  if (r.fid_ci && (r.fid < r.fid_ci[0] || r.fid > r.fid_ci[1])) {
    // cannot happen with the BCa / median-shift construction; kept as a guard that says so if it does
    out.push(`FID ${r.fid.toFixed(4)} lies outside its bootstrap interval [${r.fid_ci[0].toFixed(4)}, ${r.fid_ci[1].toFixed(4)}].`);
  }
  return out;
}
