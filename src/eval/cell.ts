/**
 * One fold × variant cell: generate `eval.samples_per_fold` images from the fold's training,
 * conditioned on the fold's held-out captions or sketches (cycling through the held-out pairs),
 * and score them against the held-out real images: FID, KID (bootstrap CIs), control metrics.
 *
 * Files (in `eval/fold-<i>/<variant>/`): samples/NNNN.png, samples.jsonl, features.npy and
 * cell.json (the scores, the sampling cost — NFE and the measured wall time of the sampling loop —
 * and the key they were computed for). A cell whose cell.json carries the
 * same key (training hash and step, sampling settings, seed, held-out pairs, extractor…) is
 * reused as it is.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import { canonicalJson, sha256 } from "../engine/hash.js";
import { writePng, type Image } from "../engine/image.js";
import type { ProgressSink } from "../engine/progress.js";
import { pairedUnits } from "../metrics/bootstrap.js";
import { compareFeatures } from "../metrics/compare.js";
import type { FeatureExtractor } from "../metrics/extractor.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { networkEvaluations, usesGuidance } from "../diffusion/samplers/nfe.js";
import { generate } from "../sample/generate.js";
import { openNetwork } from "../sample/network.js";
import { openRun } from "../sample/run-model.js";
import { listCheckpoints } from "../train/checkpoint.js";
import type { CellCost, CellReport } from "../report/report-types.js";
import { canPredictAttributes, sketchControl, textControl } from "./control.js";
import { DEFAULT_EDGE_OPTIONS } from "./edges.js";
import { conditionFor, describeCondition, type HeldOut } from "./held-out.js";
import { writeNpy } from "./npy.js";
import type { ResolvedVariant } from "./variants.js";

// /2: intervals are BCa over held-out pairs (with their generated images), not percentile over images
// /3: the cell records its sampling cost (NFE, measured seconds per image)
export const CELL_FORMAT = "diffx-eval-cell/3";
/** What one bootstrap unit of a cell is. */
export const BOOTSTRAP_UNIT = "one held-out pair: its real image together with the images generated from its condition";
export const KID_SETTINGS = { subsets: 100, subsetSize: 1000 } as const;
export const CI_LEVEL = 0.95;

export interface CellJob {
  evalDir: string;
  fold: number;
  variant: ResolvedVariant;
  /** Training run folder (absolute) and relative to the eval folder. */
  trainDir: string;
  trainRel: string;
  trainHash: string;
  /** Seed of this cell's sampling noise. */
  seed: number;
  /** Seed of the KID subsets and the bootstrap resamples. */
  statsSeed: number;
  heldOut: HeldOut;
  /** Real-image features of the held-out pairs (same extractor) and their file. */
  realFeatures: Float64Array[];
  realFeaturesFile: string;
  extractor: FeatureExtractor;
  featuresSpec: string;
  datasetHash: string;
  backend?: "tensorflow" | "wasm" | "cpu";
  /** Fold trainings of the eval running right now (they share the machine with this cell's sampling). */
  concurrentTrainings: number;
  progress: ProgressSink;
}

interface CellFile {
  format: typeof CELL_FORMAT;
  key: string;
  scores: CellReport;
}

function cellDir(job: CellJob): string {
  return path.join(job.evalDir, `fold-${job.fold}`, job.variant.name);
}

/** Everything the cell's numbers depend on. */
function cellKey(job: CellJob, step: number): string {
  const c = job.variant.config;
  return sha256(
    canonicalJson({
      format: CELL_FORMAT,
      train: { hash: job.trainHash, step },
      sample: c.sample,
      n: c.eval.samples_per_fold,
      seed: job.seed,
      stats_seed: job.statsSeed,
      bootstrap: c.eval.bootstrap,
      kid: KID_SETTINGS,
      held_out: job.heldOut.ids,
      resolution: job.heldOut.resolution,
      dataset: job.datasetHash,
      features: { spec: job.featuresSpec, description: job.extractor.describe(), dims: job.extractor.dims },
      edges: DEFAULT_EDGE_OPTIONS,
    }),
  );
}

/** The cell's scores from an earlier invocation, if they were computed for the same key. */
export function reusableCell(job: CellJob): CellReport | null {
  const file = path.join(cellDir(job), "cell.json");
  const steps = listCheckpoints(job.trainDir);
  if (!fs.existsSync(file) || steps.length === 0) return null;
  const step = steps[steps.length - 1];
  try {
    const c = JSON.parse(fs.readFileSync(file, "utf8")) as CellFile;
    if (c.format !== CELL_FORMAT || c.key !== cellKey(job, step)) return null;
    const s = c.scores;
    const files = [s.features.generated, ...Array.from({ length: s.n_generated }, (_, j) => `${s.samples}/${sampleName(j)}`)];
    return files.every((f) => fs.existsSync(path.join(job.evalDir, f))) ? s : null;
  } catch {
    return null;
  }
}

/** The machine: CPU model and logical cores. */
function hostName(): string {
  return `${os.cpus()[0]?.model.trim() ?? "unknown CPU"} (${os.availableParallelism()} cores)`;
}

export function sampleName(j: number): string {
  return `${String(j).padStart(4, "0")}.png`;
}

/** Generate, score and record the cell. */
export async function runCell(job: CellJob): Promise<CellReport> {
  const c = job.variant.config;
  const n = c.eval.samples_per_fold;
  const dir = cellDir(job);
  const rel = `fold-${job.fold}/${job.variant.name}`;
  const run = openRun(job.trainDir);
  const net = await openNetwork({ engine: c.sample.engine, run, ema: c.sample.ema, backend: job.backend, progress: job.progress });
  const step = net.step;
  const key = cellKey(job, step);
  const h = job.heldOut;
  const conditions = Array.from({ length: n }, (_, j) => conditionFor(h, c.model.conditioning, j, c.sample.language));
  const engine = `${net.engine.engine}/${net.engine.backend}`;
  let images: Image[];
  let seconds: number;
  try {
    const started = performance.now();
    images = await generate({
      session: net.session,
      model: run.config.model,
      schedule: makeSchedule(run.config.diffusion),
      prediction: run.config.diffusion.prediction,
      sampler: { name: c.sample.sampler, steps: c.sample.steps, eta: c.sample.eta, clipX0: c.sample.clip_x0 > 0 ? c.sample.clip_x0 : undefined },
      guidance: c.sample.guidance,
      seed: job.seed,
      tokenizer: run.tokenizer,
      conditions,
      batchSize: c.sample.batch_size,
      progress: job.progress,
    });
    seconds = (performance.now() - started) / 1000;
  } finally {
    net.session.dispose();
  }
  const cost: CellCost = {
    nfe: networkEvaluations(c.sample, usesGuidance(run.config.model.conditioning, c.sample.guidance)),
    images: images.length,
    seconds,
    seconds_per_image: seconds / images.length,
    images_per_s: images.length / seconds,
    engine: { name: net.engine.engine, backend: net.engine.backend, threads: net.engine.threads, host: hostName() },
    concurrent_trainings: job.concurrentTrainings,
  };

  fs.rmSync(path.join(dir, "samples"), { recursive: true, force: true });
  const records = images.map((img, j) => {
    writePng(path.join(dir, "samples", sampleName(j)), img);
    const k = j % h.ids.length;
    return {
      file: `samples/${sampleName(j)}`,
      index: j,
      pair_id: h.ids[k],
      condition: describeCondition(h, c.model.conditioning, k, c.sample.language),
      seed: job.seed,
      sampler: c.sample.sampler,
      steps: c.sample.steps,
      guidance: c.sample.guidance,
      eta: c.sample.eta,
      clip_x0: c.sample.clip_x0,
      ema: c.sample.ema,
      engine,
      checkpoint_step: step,
      train_run: job.trainRel,
    };
  });
  writeFileAtomic(path.join(dir, "samples.jsonl"), records.map((r) => JSON.stringify(r) + "\n").join(""));

  const generated = await job.extractor.extract(images);
  writeNpy(path.join(dir, "features.npy"), generated);
  const cmp = compareFeatures(job.realFeatures, generated, {
    kid: { subsets: KID_SETTINGS.subsets, subsetSize: KID_SETTINGS.subsetSize, seed: job.statsSeed },
    // resampled by held-out pair: generated image j belongs with real image j mod n (its condition)
    bootstrap: c.eval.bootstrap > 0 ? { resamples: c.eval.bootstrap, seed: job.statsSeed, level: CI_LEVEL, strata: pairedUnits(job.realFeatures.length, generated.length), unit: BOOTSTRAP_UNIT } : undefined,
    labels: [`fold ${job.fold} held-out real images`, `fold ${job.fold} ${job.variant.name} generated images`],
  });

  const wanted = images.map((_, j) => h.attributes[j % h.ids.length]);
  const text = c.model.conditioning === "text" && canPredictAttributes(job.extractor) ? await textControl(job.extractor, images, wanted, h.images, h.attributes) : null;
  const sketch =
    c.model.conditioning === "sketch" && h.sketches ? sketchControl(images, images.map((_, j) => (h.sketches as Image[])[j % h.ids.length]), h.images, h.sketches) : null;

  const scores: CellReport = {
    fold: job.fold,
    variant: job.variant.name,
    fid: cmp.fid,
    fid_ci: cmp.fid_ci ?? null,
    kid: cmp.kid,
    kid_std: cmp.kid_std,
    kid_ci: cmp.kid_ci ?? null,
    ci_detail: cmp.ci_detail ?? null,
    n_real: cmp.n_a,
    n_generated: cmp.n_b,
    dims: cmp.dims,
    seed: job.seed,
    train_run: job.trainRel,
    checkpoint_step: step,
    engine,
    samples: `${rel}/samples`,
    features: { real: job.realFeaturesFile, generated: `${rel}/features.npy` },
    text_control: text,
    sketch_fidelity: sketch,
    warnings: cmp.warnings,
    cost,
  };
  const file: CellFile = { format: CELL_FORMAT, key, scores };
  writeJsonAtomic(path.join(dir, "cell.json"), file);
  return scores;
}
