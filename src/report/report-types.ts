/**
 * The eval report (`eval/report.json`, format "diffx-eval-report/1"): the source of truth of a
 * k-fold evaluation. `report.md` and `report.html` are rendered from this object alone (plus
 * the image files it names, which the HTML embeds). Paths inside are relative to the eval
 * folder (`runs/<run>/eval/`), so a run folder can be moved.
 */
import type { StatsResult, VariantSummary } from "../stats/index.js";
import type { CiDetail } from "../metrics/compare.js";

export const EVAL_REPORT_FORMAT = "diffx-eval-report/1";

export type Interval = [number, number];

/** Images asked for one attribute value, and how many of them the classifier reads as showing it. */
export interface ValueTally {
  n: number;
  hits: number;
}

/** Text-control success: the feature extractor's attribute predictions vs the prompt's attributes. */
export interface TextControlScores {
  /** Fraction of generated images whose predicted attributes all equal the conditioning pair's. */
  success_rate: number;
  /** Per attribute: fraction of generated images where the prediction equals the pair's value. */
  attribute_accuracy: Record<string, number>;
  /** The same success rate of the classifier on the held-out real images (its ceiling here). */
  real_success_rate: number;
  /** Per attribute: the classifier's accuracy on the held-out real images at the eval's resolution. */
  real_attribute_accuracy?: Record<string, number>;
  /** Chance: how often another held-out pair's value equals this pair's (ordered pairs i ≠ j); null with one pair. */
  chance_success_rate?: number | null;
  chance_attribute_accuracy?: Record<string, number | null>;
  /** success_rate / real_success_rate (null when the classifier gets no real image right). */
  success_vs_real?: number | null;
  /** Per attribute and value asked for (e.g. count "3"): generated images asked for it, and how many show it. */
  by_value?: Record<string, Record<string, ValueTally>>;
  /** The same for the held-out real images (the classifier's ceiling per value). */
  real_by_value?: Record<string, Record<string, ValueTally>>;
  /** Attributes compared (predicted by the extractor and present in the dataset). */
  attributes: string[];
  n: number;
  /** Held-out real images classified. */
  n_real?: number;
}

/** Sketch fidelity: edges of each generated image vs its input sketch (F1 at a pixel tolerance). */
export interface SketchFidelityScores {
  /** Mean over generated images. */
  f1: number;
  precision: number;
  recall: number;
  /** Mean F1 of the held-out real images against their own sketches (reference level). */
  real_f1: number;
  /** Mean F1 of the real images against another held-out pair's sketch (chance level); null with one pair. */
  chance_f1: number | null;
  tolerance_px: number;
  /** Sobel magnitude / 4 of the luma at or above which a generated pixel is an edge. */
  gradient_threshold: number;
  /** Luma at or below which a sketch pixel is a stroke. */
  sketch_threshold: number;
  n: number;
}

/** What produced a cell's sampling time: the network engine, its backend, threads, and the machine. */
export interface SamplingEngine {
  /** "onnx" or "tfjs". */
  name: string;
  /** onnx: the execution provider (cpu, cuda); tfjs: the backend (wasm, cpu, tensorflow). */
  backend: string;
  threads: number;
  /** The machine's CPU model and logical core count. */
  host: string;
}

/**
 * What one cell's images cost. `nfe` is arithmetic (sampler steps, doubled when guidance runs the
 * unconditional pass); the times are measured wall-clock time of the sampling loop (the network
 * loaded, PNG writing and scoring not counted) and vary with the machine and its load.
 */
export interface CellCost {
  /** Network evaluations per image. */
  nfe: number;
  images: number;
  seconds: number;
  seconds_per_image: number;
  images_per_s: number;
  engine: SamplingEngine;
  /** Fold trainings of this eval running at the same time as the sampling (they share the CPU). */
  concurrent_trainings: number;
}

/** Scores of one fold × variant cell. */
export interface CellReport {
  fold: number;
  variant: string;
  fid: number;
  fid_ci: Interval | null;
  kid: number;
  kid_std: number;
  kid_ci: Interval | null;
  /** How fid_ci and kid_ci were computed (unit, BCa z0 and acceleration, any fallback); null without bootstrap. */
  ci_detail: CiDetail | null;
  n_real: number;
  n_generated: number;
  dims: number;
  /** Seed of this cell's sampling noise (sample i's noise derives from (seed, i)). */
  seed: number;
  /** Training run used (folder relative to the eval folder). */
  train_run: string;
  checkpoint_step: number;
  /** Network engine and backend that generated the samples ("tfjs/wasm", "onnx/cpu"). */
  engine: string;
  /** Folder of the generated PNGs and samples.jsonl. */
  samples: string;
  /** Feature files (.npy, float64, n × dims): held-out real images and generated images. */
  features: { real: string; generated: string };
  text_control: TextControlScores | null;
  sketch_fidelity: SketchFidelityScores | null;
  warnings: string[];
  /** Sampling cost (absent in reports written before it existed). */
  cost?: CellCost;
}

export interface VariantReport {
  name: string;
  sampler: string;
  steps: number;
  guidance: number;
  eta: number;
  /** x̂₀ clipping bound (0 = off). */
  clip_x0: number;
  ema: boolean;
  /** Network engine asked for (sample.engine). */
  engine: string;
  /** Training run name inside each fold folder ("train" or "train-<variant>"). */
  training: string;
  /** The variant's overrides as written in the config. */
  overrides: Record<string, unknown>;
  model_resolution: number;
  /** Sampling cost over the folds (absent in reports written before it existed). */
  cost?: VariantCost;
  /** Parameters of the variant's fold trainings (absent when their manifests do not record them). */
  parameters?: ParameterRange;
}

/**
 * A variant's sampling cost: NFE per image, and the measured seconds per image as the mean over
 * folds with the fold spread (sd); images/s = 1 / seconds_per_image. Measured on the machine
 * `engine` names: other machines, thread counts or loads give other times.
 */
export interface VariantCost {
  nfe: number;
  seconds_per_image: number;
  /** Standard deviation over folds (0 with one fold). */
  seconds_per_image_sd: number;
  images_per_s: number;
  /** "onnx/cpu, 2 threads, <CPU model> (2 cores)": the engines that timed the cells (distinct ones joined by "; "). */
  engine: string;
  /** Most fold trainings that ran while one of the variant's cells was sampling. */
  concurrent_trainings: number;
}

/**
 * Trainable and total parameters of a variant's fold trainings (from their manifests) as
 * [lowest, highest] over folds: a text model's vocabulary, and so its token embedding, is built
 * from each fold's training captions, so the counts can differ a little between folds.
 */
export interface ParameterRange {
  trainable: [number, number];
  total: [number, number];
  /** trainable / total. */
  ratio: [number, number];
  /** "LoRA rank 4, α 4 on 12 layers", "none (train.steps 0: nothing trained)", or null for full training. */
  adapter: string | null;
}

export interface FoldReport {
  fold: number;
  n_train: number;
  n_held_out: number;
  /** Pair ids held out (the real images of this fold). */
  held_out: string[];
  /**
   * FID and KID between two disjoint sets of real images of the cells' sizes: the fold's n_a
   * held-out images and n_b of its training images (see cv.real_floor_rule). No generator is
   * expected to score below it at this n. Absent in reports written before it existed.
   */
  real_floor?: { fid: number; kid: number; n_a: number; n_b: number; b_ids: string[] };
}

export interface TrainingReport {
  fold: number;
  /** Training run folder, relative to the eval folder. */
  run: string;
  /** Variants sampled from this training. */
  variants: string[];
  steps: number;
  final_loss: number | null;
  /** [step, loss] (thinned to at most a few hundred points). */
  loss: [number, number][];
  /** [step, KL term L_t in bits/dim on held-out pairs]. */
  kl: [number, number][];
  /** [step, perceptual loss on the same pairs] (src/train/perceptual.ts; absent in reports written before it existed). */
  perceptual?: [number, number][];
  /** Trainable and total parameters as the training's manifest records them (null when it does not). */
  parameters?: { trainable: number; total: number; ratio: number } | null;
  /** True when this eval reused a finished training from an earlier invocation. */
  reused: boolean;
}

export interface ComparisonRow {
  fold: number;
  pair_id: string;
  /** The condition: caption, or "sketch <id>", or "unconditional". */
  condition: string;
  /** The held-out real image at the model resolution. */
  real: string;
  /** The input sketch (sketch models). */
  sketch: string | null;
  /** Per variant: the first generated image with this condition. */
  generated: Record<string, string>;
}

export interface MetricSummary {
  mean: number;
  sd: number;
  ci95: Interval;
}

export interface VariantSummaryRow {
  name: string;
  fid: MetricSummary;
  kid: MetricSummary;
  text_control: MetricSummary | null;
  sketch_f1: MetricSummary | null;
  /** NFE per image and the measured seconds per image (mean over folds); null without cost records. */
  cost?: { nfe: number; seconds_per_image: number; images_per_s: number } | null;
}

export interface TestLine {
  F: number;
  df1: number;
  df2: number;
  p: number;
}

/** What `diffx eval --json` prints. */
export interface EvalSummary {
  experiment: string;
  folds: number;
  variants: VariantSummaryRow[];
  /** Repeated-measures ANOVA of FID (null with a single variant). */
  fid_rm_anova: (TestLine & { p_gg: number }) | null;
  kid_rm_anova: (TestLine & { p_gg: number }) | null;
  /** Variant with the lowest mean FID. */
  best_fid: string;
  /** Mean over folds of the real-vs-real floor (null when the report has none). */
  real_floor: { fid: number; kid: number } | null;
  /** The paired tests of FID the headline reads (exact where the folds allow). */
  fid_tests: { friedman_p: number; friedman_method: string; sign_test_p: number | null; wilcoxon_p: number | null } | null;
}

export interface EvalReport {
  format: typeof EVAL_REPORT_FORMAT;
  diffx_version: string;
  git_commit: string | null;
  created: string;
  experiment: { name: string; config: string; config_hash: string; seed: number };
  dataset: { name: string; kind: string; hash: string; n_pairs: number; n_groups: number; image_size: number; stratify: string | null };
  cv: { k: number; split_seed: number; folds: FoldReport[]; real_floor_rule?: string };
  extractor: { spec: string; name: string; dims: number; description: string };
  images: { dataset_image_size: number; real: string; generated: string };
  sampling: { samples_per_fold: number; seed_rule: string; conditions: string; cost_rule?: string };
  kid: { subsets: number; subset_size: number; seed_rule: string };
  bootstrap: { resamples: number; level: number; seed_rule: string; unit: string; method: string };
  variants: VariantReport[];
  cells: CellReport[];
  stats: {
    /** Full statistics (diffx stats) of the per-fold FID / KID; null with a single variant. */
    fid: StatsResult | null;
    kid: StatsResult | null;
    /** Per-variant mean, sd and t-based 95 % CI of every per-fold metric. */
    summaries: Record<string, Record<string, VariantSummary>>;
  };
  training: TrainingReport[];
  /** How the training curves' logged terms are computed (absent in reports written before it existed). */
  curves?: { kl: string; perceptual: string };
  comparison: { rows: ComparisonRow[]; grid: string | null };
  caveats: string[];
  summary: EvalSummary;
}
