/**
 * The held-out scores of a pretrained base, for its metadata: one image per pair of a
 * procedural held-out set (the generator of the corpus, `pretrain.heldout_seed`, n =
 * `pretrain.heldout_n`; both in the pretraining seed range, so neither the base nor the domain
 * extractor saw those pairs), sampled from the run's final EMA weights with the config's
 * sampler and scored exactly like an eval cell (cell.ts): FID/KID with the config's features,
 * text control beside the classifier's success on the real held-out images, sketch fidelity.
 *
 * Files go to `<run>/base-eval/` (the held-out real images, the samples, features, cell.json).
 */
import * as path from "node:path";
import type { Config, DatasetConfig } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import type { ProgressSink } from "../engine/progress.js";
import { openDataset } from "../data/build.js";
import { loadExtractor } from "../metrics/extractor.js";
import { RUN_FILES } from "../runs/folder.js";
import { readManifest } from "../runs/manifest.js";
import type { CellReport } from "../report/report-types.js";
import { requirePretrain } from "../train/pretrain.js";
import { runCell } from "./cell.js";
import { HeldOutLoader } from "./held-out.js";
import { writeNpy } from "./npy.js";

export const BASE_EVAL_DIR = "base-eval";

/** The procedural held-out set of a pretraining config (a dataset config of its own, named with its n so another heldout_n builds beside it). */
export function heldOutDataset(config: Config): DatasetConfig {
  const pre = requirePretrain(config, config.name);
  return { ...config.dataset, name: `${config.dataset.name}-heldout-${pre.heldout_n}`, n: pre.heldout_n, seed: pre.heldout_seed };
}

export interface BaseScores {
  heldout: { generator_seed: number; n: number; resolution: number };
  sampler: { name: string; steps: number; guidance: number; eta: number };
  features: string;
  fid: number;
  kid: number;
  n_real: number;
  n_generated: number;
  text_control: CellReport["text_control"];
  sketch_fidelity: CellReport["sketch_fidelity"];
  samples: string;
}

export interface ScoreBaseOptions {
  cwd?: string;
  backend?: "tensorflow" | "wasm" | "cpu";
  progress: ProgressSink;
  /** Sample with these settings instead of the config's (bench/sampler-study.ts). */
  sample?: Partial<Config["sample"]>;
  /** Images per held-out caption (default 1). */
  perCaption?: number;
  /** Folder for the files, relative to the run (default base-eval) and the cell's variant name (default base). */
  dir?: string;
  variant?: string;
}

export async function scoreBase(runDir: string, o: ScoreBaseOptions): Promise<BaseScores> {
  const { config: runConfig, hash } = loadConfig(path.join(runDir, RUN_FILES.config));
  const dsConfig = heldOutDataset(runConfig);
  const ds = openDataset(dsConfig, { cwd: o.cwd, progress: o.progress });
  const n = ds.pairs.length;
  const config: Config = { ...runConfig, eval: { ...runConfig.eval, samples_per_fold: n * (o.perCaption ?? 1) }, sample: { ...runConfig.sample, ...o.sample } };
  const evalDir = path.join(runDir, o.dir ?? BASE_EVAL_DIR);
  const R = config.model.resolution;
  const h = await new HeldOutLoader(ds, evalDir).fold(0, ds.pairs.map((_, i) => i), R);
  const extractor = await loadExtractor(config.eval.features);
  const realFile = `fold-0/real-${R}px/features.npy`;
  const real = await extractor.extract(h.images);
  writeNpy(path.join(evalDir, realFile), real);
  const cell = await runCell({
    evalDir,
    fold: 0,
    variant: { name: o.variant ?? "base", config, overrides: {}, training: "pretrain" },
    trainDir: runDir,
    trainRel: "..",
    trainHash: hash,
    seed: config.seed,
    statsSeed: config.seed,
    heldOut: h,
    realFeatures: real,
    realFeaturesFile: realFile,
    extractor,
    featuresSpec: config.eval.features,
    datasetHash: readManifest(runDir).dataset_hash ?? ds.hash,
    backend: o.backend,
    concurrentTrainings: 0,
    progress: o.progress,
  });
  return {
    heldout: { generator_seed: dsConfig.seed, n, resolution: R },
    sampler: { name: config.sample.sampler, steps: config.sample.steps, guidance: config.sample.guidance, eta: config.sample.eta },
    features: `${config.eval.features}: ${extractor.describe()}`,
    fid: cell.fid,
    kid: cell.kid,
    n_real: cell.n_real,
    n_generated: cell.n_generated,
    text_control: cell.text_control,
    sketch_fidelity: cell.sketch_fidelity,
    samples: `${o.dir ?? BASE_EVAL_DIR}/${cell.samples}`,
  };
}
