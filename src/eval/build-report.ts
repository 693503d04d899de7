/**
 * Assembles report.json (src/report/report-types.ts) from what the eval computed: the cells'
 * scores, their statistics across folds (src/stats), the fold trainings' curves, the comparison
 * matrix's rows, and the caveats that apply, each stated with the numbers behind it.
 */
import type { Config } from "../config/schema.js";
import type { Dataset } from "../data/dataset.js";
import { analyse, summarise, type StatsResult, type VariantSummary } from "../stats/index.js";
import * as fs from "node:fs";
import * as path from "node:path";
import { gitCommit, readManifest, type RunManifest } from "../runs/manifest.js";
import { RUN_FILES } from "../runs/folder.js";
import { networkEvaluations, usesGuidance } from "../diffusion/samplers/nfe.js";
import { DIFFX_VERSION } from "../runs/version.js";
import { readMetrics } from "../train/trainer.js";
import { PERCEPTUAL_RULE } from "../train/perceptual.js";
import type { FeatureExtractor } from "../metrics/extractor.js";
import {
  EVAL_REPORT_FORMAT,
  type CellReport,
  type ComparisonRow,
  type EvalReport,
  type EvalSummary,
  type MetricSummary,
  type ParameterRange,
  type SamplingEngine,
  type TrainingReport,
  type VariantCost,
  type VariantReport,
  type VariantSummaryRow,
} from "../report/report-types.js";
import { BOOTSTRAP_UNIT, CI_LEVEL, KID_SETTINGS, sampleName } from "./cell.js";
import { DEFAULT_EDGE_OPTIONS } from "./edges.js";
import { FLOOR_RULE, type RealFloor } from "./floor.js";
import type { FoldPlan } from "./fold-plan.js";
import type { HeldOut } from "./held-out.js";
import { describeCondition } from "./held-out.js";
import type { TrainJob } from "./train-jobs.js";
import type { ResolvedVariant } from "./variants.js";

/** How report.json's `cost` numbers were obtained. */
export const COST_RULE =
  "nfe = sampler steps × 2 when classifier-free guidance runs the unconditional pass (a conditional model with guidance ≠ 1), else × 1; " +
  "seconds_per_image = measured wall time of a cell's sampling loop (network already loaded; PNG writing and scoring not counted) / its images, " +
  "per variant the mean over folds (sd: the fold spread), images_per_s = 1 / seconds_per_image; measured on the engine, threads and machine named beside it, so it varies with the machine and its load";

/** How the logged KL term is computed (src/diffusion/vlb.ts, src/train/trainer.ts). */
const KL_RULE =
  "the VLB term L_t in bits/dim ([DDPM] eq. 5, fixed variance β̃_t) of the first ≤ 8 held-out pairs, one evenly spread timestep each, with fixed noise, every train.eval_every steps";

/** Most points kept per training curve in the report. */
const MAX_CURVE_POINTS = 300;
/** Held-out pairs per fold shown in the comparison matrix. */
const COMPARISON_ROWS_PER_FOLD = 3;

export interface ReportInput {
  config: Config;
  configHash: string;
  ds: Dataset;
  plan: FoldPlan;
  variants: ResolvedVariant[];
  jobs: { job: TrainJob; reused: boolean }[];
  cells: CellReport[];
  extractor: FeatureExtractor;
  featuresSpec: string;
  /** Held-out data per fold at the first variant's resolution (for the comparison matrix). */
  heldOut: HeldOut[];
  /** Real-vs-real floor per fold (src/eval/floor.ts). */
  floors: RealFloor[];
}

type Metric = "fid" | "kid" | "text_control" | "sketch_f1";

function metricValue(c: CellReport, m: Metric): number | null {
  if (m === "fid") return c.fid;
  if (m === "kid") return c.kid;
  if (m === "text_control") return c.text_control ? c.text_control.success_rate : null;
  return c.sketch_fidelity ? c.sketch_fidelity.f1 : null;
}

function rows(cells: CellReport[], m: Metric): { fold: number; variant: string; value: number }[] | null {
  const out = cells.map((c) => ({ fold: c.fold, variant: c.variant, value: metricValue(c, m) }));
  if (out.some((r) => r.value === null)) return null;
  return out as { fold: number; variant: string; value: number }[];
}

function fullStats(cells: CellReport[], m: Metric, nVariants: number): StatsResult | null {
  const r = rows(cells, m);
  return r && nVariants >= 2 ? analyse(r, `per-fold ${m}`) : null;
}

function summaries(cells: CellReport[], variants: ResolvedVariant[]): Record<string, Record<string, VariantSummary>> {
  const out: Record<string, Record<string, VariantSummary>> = {};
  for (const m of ["fid", "kid", "text_control", "sketch_f1"] as const) {
    if (!rows(cells, m)) continue;
    out[m] = Object.fromEntries(variants.map((v) => [v.name, summarise(cells.filter((c) => c.variant === v.name).map((c) => metricValue(c, m) as number))]));
  }
  return out;
}

function thin(points: [number, number][]): [number, number][] {
  if (points.length <= MAX_CURVE_POINTS) return points;
  const stride = Math.ceil(points.length / MAX_CURVE_POINTS);
  const kept = points.filter((_, i) => i % stride === 0);
  if (kept[kept.length - 1] !== points[points.length - 1]) kept.push(points[points.length - 1]);
  return kept;
}

/**
 * The parameters a fold training trained, from the counts its manifest records (null when it has
 * none, e.g. written before they were recorded). A training of `train.steps: 0` (the zero-shot
 * control: `train.init`'s weights as they are) trained none, whatever its model could train.
 */
export function trainedParameters(job: TrainJob): RunManifest["parameters"] | null {
  if (!fs.existsSync(path.join(job.dir, RUN_FILES.manifest))) return null;
  const p = readManifest(job.dir).parameters ?? null;
  return p && job.config.train.steps === 0 ? { ...p, trainable: 0, ratio: 0 } : p;
}

function trainingReports(input: ReportInput): TrainingReport[] {
  return input.jobs.map(({ job, reused }) => {
    const metrics = readMetrics(job.dir);
    const p = trainedParameters(job);
    return {
      fold: job.fold,
      run: job.rel,
      variants: input.variants.filter((v) => v.training === job.name).map((v) => v.name),
      steps: job.config.train.steps,
      final_loss: metrics.length ? metrics[metrics.length - 1].loss : null,
      loss: thin(metrics.map((m) => [m.step, m.loss])),
      kl: thin(metrics.filter((m) => m.kl_bpd !== undefined).map((m) => [m.step, m.kl_bpd as number])),
      perceptual: thin(metrics.filter((m) => m.perceptual !== undefined).map((m) => [m.step, m.perceptual as number])),
      parameters: p ? { trainable: p.trainable, total: p.total, ratio: p.ratio } : null,
      reused,
    };
  });
}

/** "onnx/cpu, 2 threads, <CPU> (2 cores)" */
export function describeEngine(e: SamplingEngine): string {
  return `${e.name}/${e.backend}, ${e.threads} thread${e.threads === 1 ? "" : "s"}, ${e.host}`;
}

/**
 * A variant's sampling cost from its cells: NFE per image from its sampler settings (every cell
 * must agree), seconds per image as the mean over folds with their sd. Null when a cell has no
 * cost (scored before cells recorded it).
 */
function variantCost(v: ResolvedVariant, cells: CellReport[]): VariantCost | null {
  const costs = cells.filter((c) => c.variant === v.name).map((c) => c.cost);
  if (!costs.length || costs.some((c) => c === undefined)) return null;
  const known = costs as NonNullable<CellReport["cost"]>[];
  const nfe = networkEvaluations(v.config.sample, usesGuidance(v.config.model.conditioning, v.config.sample.guidance));
  const s = known.map((c) => c.seconds_per_image);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const sd = s.length > 1 ? Math.sqrt(s.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (s.length - 1)) : 0;
  return {
    nfe,
    seconds_per_image: mean,
    seconds_per_image_sd: sd,
    images_per_s: 1 / mean,
    engine: [...new Set(known.map((c) => describeEngine(c.engine)))].join("; "),
    concurrent_trainings: Math.max(...known.map((c) => c.concurrent_trainings)),
  };
}

/** Trained / total parameters of the variant's fold trainings (trainedParameters), as [lowest, highest] over folds; null when a manifest lacks them. */
export function variantParameters(v: Pick<ResolvedVariant, "training">, jobs: ReportInput["jobs"]): ParameterRange | null {
  const own = jobs.filter(({ job }) => job.name === v.training);
  const counts = own.map(({ job }) => trainedParameters(job));
  if (!counts.length || counts.some((c) => c === null)) return null;
  const known = counts as NonNullable<RunManifest["parameters"]>[];
  const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];
  const a = known[0].adapter;
  const untrained = own.every(({ job }) => job.config.train.steps === 0);
  return {
    trainable: range(known.map((c) => c.trainable)),
    total: range(known.map((c) => c.total)),
    ratio: range(known.map((c) => c.ratio)),
    adapter: untrained ? "none (train.steps 0: nothing trained)" : a ? `LoRA rank ${a.rank}, α ${a.alpha} on ${a.layers} layers (${a.targets.join(", ")})` : null,
  };
}

function comparisonRows(input: ReportInput): ComparisonRow[] {
  const out: ComparisonRow[] = [];
  const n = input.config.eval.samples_per_fold;
  const conditioning = input.variants[0].config.model.conditioning;
  input.heldOut.forEach((h, fold) => {
    const shown = Math.min(COMPARISON_ROWS_PER_FOLD, h.ids.length, n);
    for (let k = 0; k < shown; k++) {
      // generated sample k is the first one made from held-out pair k (samples cycle through the pairs)
      out.push({
        fold,
        pair_id: h.ids[k],
        condition: describeCondition(h, conditioning, k),
        real: h.imageFiles[k],
        sketch: h.sketchFiles ? h.sketchFiles[k] : null,
        generated: Object.fromEntries(input.variants.map((v) => [v.name, `fold-${fold}/${v.name}/samples/${sampleName(k)}`])),
      });
    }
  });
  return out;
}

function caveats(input: ReportInput, report: Pick<EvalReport, "cells" | "variants">): string[] {
  const { config, plan } = input;
  const out: string[] = [];
  const cells = report.cells;
  const nReal = [...new Set(cells.map((c) => c.n_real))].sort((a, b) => a - b);
  const nGen = [...new Set(cells.map((c) => c.n_generated))];
  const dims = cells.length ? cells[0].dims : input.extractor.dims;
  const range = (xs: number[]): string => (xs.length === 1 ? String(xs[0]) : `${xs[0]}–${xs[xs.length - 1]}`);
  const small = Math.max(...nReal, ...nGen) < dims;
  out.push(
    `Small samples: each fold compares ${range(nReal)} held-out real images with ${range(nGen)} generated images in a ${dims}-dimensional feature space. ` +
      (small
        ? "With n below the feature dimension the covariance estimates are rank-deficient: FID is still computed exactly, but it is biased upwards and depends on n, so compare FIDs only within this report (same n, same extractor). "
        : "FID is biased upwards at small n, so compare FIDs only at the same n with the same extractor. ") +
      "KID is unbiased but noisy at this n; see its bootstrap interval.",
  );
  out.push(
    `Cross-validation: the ${plan.k} folds share training data (every pair is in the training set of ${plan.k - 1} of the ${plan.k} fold models), so per-fold scores are not independent. ` +
      `Standard deviations, confidence intervals and ANOVA p-values computed as if folds were independent are optimistic (Nadeau & Bengio, 2003), and with ${plan.k} folds the tests have little power: read the p-values as indicative, not exact.`,
  );
  out.push(
    `Feature extractor: ${input.extractor.name} (${input.extractor.describe()}). FID/KID values depend on the extractor and are not comparable with FIDs computed with another one (e.g. Inception-v3 pool3).`,
  );
  const resolutions = [...new Set(report.variants.map((v) => v.model_resolution))];
  out.push(
    `Image size: real images are the held-out pairs downsampled by area averaging from ${input.ds.imageSize} px to the model resolution (${resolutions.join(", ")} px), exactly as for training; generated images are made at that resolution; the extractor then resizes both the same way.`,
  );
  if (resolutions.length > 1) out.push("Variants work at different model resolutions, so their FIDs compare different real sets and are not directly comparable.");
  const nHeld = plan.heldOut.map((r) => r.length);
  const n = config.eval.samples_per_fold;
  if (nHeld.some((m) => m !== n)) {
    const held = [...new Set(nHeld)].sort((a, b) => a - b);
    const use = held[0] > n ? `so only the first ${n} of them condition an image` : "so some are used more than once";
    out.push(`Conditions: each fold generates ${n} images from its ${range(held)} held-out captions/sketches, cycling through them (generated image j uses held-out pair j mod n_held_out), ${use}.`);
  }
  out.push("Noise: within a fold every variant starts from the same noise (the sampling seed depends on the master seed and the fold only), so differences between variants are not differences between noise draws.");
  if (config.eval.bootstrap > 0) {
    const fallback = cells.filter((c) => c.ci_detail && (c.ci_detail.fid.method !== "BCa" || c.ci_detail.kid.method !== "BCa")).length;
    out.push(
      `Bootstrap intervals (${config.eval.bootstrap} resamples, BCa, ${CI_LEVEL * 100} %) resample the held-out pairs of one fold, each together with the images generated from it: they show the sampling noise of that fold's score, not the variation across folds or trainings. ` +
        "FID is biased upwards at small n and a resample that repeats pairs is more so; BCa's bias correction keeps the estimate inside its interval" +
        (fallback ? `, except in ${fallback} cell(s) where BCa was undefined and the percentile interval shifted by the median bias is given instead (ci_detail says which).` : "."),
    );
  }
  if (report.variants.length < 2) out.push("Only one variant: no ANOVA or post-hoc tests are possible; the report gives the per-fold scores and their summary.");
  if (cells.some((c) => c.text_control)) {
    out.push("Text control: a generated image counts as a success when the domain classifier's predictions equal every attribute of the caption's pair; the classifier's own success rate on the real held-out images is its ceiling and is given beside it.");
  } else if (report.variants.some((v) => input.variants.find((x) => x.name === v.name)?.config.model.conditioning === "text")) {
    out.push(`Text control: not measured, because the feature extractor '${input.featuresSpec}' does not predict attributes (the domain extractor does).`);
  }
  if (cells.some((c) => c.sketch_fidelity)) {
    const e = DEFAULT_EDGE_OPTIONS;
    out.push(
      `Sketch fidelity: F1 between the Sobel edges of each generated image (magnitude/4 ≥ ${e.gradientThreshold}) and the strokes of its sketch (luma ≤ ${e.sketchThreshold}) at a ${e.tolerance}-px tolerance, at the model resolution. ` +
        "The real renders' F1 against their own sketches (reference) and against another pair's sketch (chance) are given beside it; at low resolution the chance level is high.",
    );
  }
  if (input.floors.length) {
    const fids = input.floors.map((f) => f.fid);
    const lo = Math.min(...fids), hi = Math.max(...fids);
    const floorMean = fids.reduce((a, b) => a + b, 0) / fids.length;
    const above = report.variants.map((v) => {
      const vals = cells.filter((c) => c.variant === v.name).map((c) => c.fid);
      const m = vals.reduce((a, b) => a + b, 0) / Math.max(1, vals.length);
      return `${v.name} ${m.toPrecision(4)} (${(m / floorMean).toFixed(2)}× the floor)`;
    });
    out.push(
      `Real-vs-real floor: two disjoint sets of real images of the cells' sizes (${input.floors[0].n_a} held-out vs ${input.floors[0].n_b} training images) already score FID ${lo.toPrecision(4)}–${hi.toPrecision(4)} (mean ${floorMean.toPrecision(4)}) with this extractor at this n; no generator can be expected to score below it. ` +
        `Mean FID: ${above.join(", ")}. A difference between variants that is small next to the distance from the floor, or a metric that scores noise near the floor (diffx metrics check), says little.`,
    );
  }
  if (report.variants.some((v) => v.cost)) {
    out.push(
      "Cost: NFE is the number of network evaluations per image (sampler steps, doubled when classifier-free guidance runs the unconditional pass); seconds per image is the measured wall time of the sampling loop divided by the images it made (loading the network, writing PNGs and scoring not counted), mean ± sd over folds. " +
        "The times were measured on the engine, threads and machine each variant's cost names (variants[i].cost.engine), and, when fold trainings run in parallel (eval.parallel or --parallel above 1), possibly while other fold trainings of this eval ran (cost.concurrent_trainings). " +
        "They vary with the machine, its load, the engine and the thread count: compare them within this report, not with times measured elsewhere; NFE carries over.",
    );
  }
  const metricWarnings = [...new Set(cells.flatMap((c) => c.warnings))].filter((w) => !w.includes("below the feature dimension"));
  out.push(...metricWarnings);
  return out.map((s) => s.replace(/\s+/g, " ").trim());
}

function metricSummary(s: VariantSummary | undefined): MetricSummary | null {
  return s ? { mean: s.mean, sd: s.sd, ci95: s.ci95 } : null;
}

function summary(config: Config, variants: ResolvedVariant[], variantReports: VariantReport[], stats: EvalReport["stats"], k: number, floors: RealFloor[]): EvalSummary {
  const costOf = (name: string): VariantSummaryRow["cost"] => {
    const c = variantReports.find((v) => v.name === name)?.cost;
    return c ? { nfe: c.nfe, seconds_per_image: c.seconds_per_image, images_per_s: c.images_per_s } : null;
  };
  const rows = variants.map((v) => ({
    name: v.name,
    fid: metricSummary(stats.summaries.fid?.[v.name]) as MetricSummary,
    kid: metricSummary(stats.summaries.kid?.[v.name]) as MetricSummary,
    text_control: metricSummary(stats.summaries.text_control?.[v.name]),
    sketch_f1: metricSummary(stats.summaries.sketch_f1?.[v.name]),
    cost: costOf(v.name),
  }));
  const best = rows.reduce((a, b) => (b.fid.mean < a.fid.mean ? b : a));
  const rm = (s: StatsResult | null) => (s ? { F: s.rm_anova.F, df1: s.rm_anova.df1, df2: s.rm_anova.df2, p: s.rm_anova.p, p_gg: s.rm_anova.p_gg } : null);
  const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
  const f = stats.fid;
  return {
    experiment: config.name,
    folds: k,
    variants: rows,
    fid_rm_anova: rm(stats.fid),
    kid_rm_anova: rm(stats.kid),
    best_fid: best.name,
    real_floor: floors.length ? { fid: mean(floors.map((x) => x.fid)), kid: mean(floors.map((x) => x.kid)) } : null,
    fid_tests: f
      ? { friedman_p: f.friedman.p, friedman_method: f.friedman.p_method, sign_test_p: f.paired ? f.paired.sign_test.p : null, wilcoxon_p: f.paired ? f.paired.wilcoxon.p : null }
      : null,
  };
}

export function buildReport(input: ReportInput): EvalReport {
  const { config, ds, plan, variants } = input;
  const order = new Map(variants.map((v, i) => [v.name, i]));
  const cells = [...input.cells].sort((a, b) => a.fold - b.fold || (order.get(a.variant) ?? 0) - (order.get(b.variant) ?? 0));
  const variantReports: VariantReport[] = variants.map((v) => {
    const cost = variantCost(v, cells);
    const parameters = variantParameters(v, input.jobs);
    return {
      name: v.name,
      sampler: v.config.sample.sampler,
      steps: v.config.sample.steps,
      guidance: v.config.sample.guidance,
      eta: v.config.sample.eta,
      clip_x0: v.config.sample.clip_x0,
      ema: v.config.sample.ema,
      engine: v.config.sample.engine,
      training: v.training,
      overrides: v.overrides,
      model_resolution: v.config.model.resolution,
      ...(cost ? { cost } : {}),
      ...(parameters ? { parameters } : {}),
    };
  });
  const stats = {
    fid: fullStats(cells, "fid", variants.length),
    kid: fullStats(cells, "kid", variants.length),
    summaries: summaries(cells, variants),
  };
  const R = variants[0].config.model.resolution;
  return {
    format: EVAL_REPORT_FORMAT,
    diffx_version: DIFFX_VERSION,
    git_commit: gitCommit(),
    created: new Date().toISOString(),
    experiment: { name: config.name, config: "../config.yaml", config_hash: input.configHash, seed: config.seed },
    dataset: { name: config.dataset.name, kind: ds.kind, hash: ds.hash, n_pairs: ds.pairs.length, n_groups: plan.nGroups, image_size: ds.imageSize, stratify: plan.stratify },
    cv: {
      k: plan.k,
      split_seed: plan.seed,
      folds: plan.heldOut.map((rowsHeld, fold) => ({
        fold,
        n_train: plan.train[fold].length,
        n_held_out: rowsHeld.length,
        held_out: rowsHeld.map((r) => ds.pairs[r].id),
        ...(input.floors[fold] ? { real_floor: input.floors[fold] } : {}),
      })),
      real_floor_rule: FLOOR_RULE,
    },
    extractor: { spec: input.featuresSpec, name: input.extractor.name, dims: input.extractor.dims, description: input.extractor.describe() },
    images: {
      dataset_image_size: ds.imageSize,
      real: `held-out pairs, area-downsampled from ${ds.imageSize} px to the model resolution (${R} px), as in training`,
      generated: `${R} px, 8-bit RGB PNG`,
    },
    sampling: {
      samples_per_fold: config.eval.samples_per_fold,
      seed_rule: "sampling seed of fold i = Rng(seed, 'eval-samples', i); sample j's noise = Rng(that seed, 'sample', j, …): the same for every variant of a fold",
      conditions: "generated image j is conditioned on held-out pair j mod n_held_out (its English caption, or its sketch)",
      cost_rule: COST_RULE,
    },
    kid: { subsets: KID_SETTINGS.subsets, subset_size: KID_SETTINGS.subsetSize, seed_rule: "per fold: Rng(seed, 'eval-stats', i) (subsets are drawn only when the subset size is below n)" },
    bootstrap: {
      resamples: config.eval.bootstrap,
      level: CI_LEVEL,
      seed_rule: "per fold: Rng(seed, 'eval-stats', i); the same resamples for every variant of a fold",
      unit: BOOTSTRAP_UNIT,
      method:
        "BCa (Efron & Tibshirani 1993 §14.3), as scipy.stats.bootstrap(method='BCa'): held-out pairs drawn with replacement, each with the generated images conditioned on it (generated j belongs to pair j mod n_held_out); " +
        "z0 = Φ⁻¹ of the mid-rank fraction of resampled values below the estimate; acceleration from the leave-one-pair-out jackknife; ends at the BCa-adjusted quantiles (linear interpolation). " +
        "Where BCa is undefined (all resampled values on one side of the estimate) the percentile interval shifted by the median bias; each cell's ci_detail records z0, the acceleration and the method used.",
    },
    variants: variantReports,
    cells,
    stats,
    training: trainingReports(input),
    curves: { kl: KL_RULE, perceptual: PERCEPTUAL_RULE },
    comparison: { rows: comparisonRows(input), grid: null },
    caveats: caveats(input, { cells, variants: variantReports }),
    summary: summary(config, variants, variantReports, stats, plan.k, input.floors),
  };
}
