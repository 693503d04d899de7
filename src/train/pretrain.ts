/**
 * `diffx pretrain` as library functions: train a base model on a procedural corpus, then
 * package the run's final EMA weights as a base folder (base-file.ts).
 *
 * A pretraining config is an ordinary training config with a `pretrain` section: its dataset
 * section describes the corpus (a built-in generator, n pairs, a seed from the pretraining range
 * of src/config/seed-ranges.ts), drawn into datasets/<dataset.name> like any generated dataset.
 * Training is `diffx train` unchanged (progress, checkpoints, resume, manifest), so the same
 * config on the same backend gives the same weights bit for bit. Text corpora train on English
 * and Chinese captions both (each step draws one of a pair's captions).
 */
import * as path from "node:path";
import type { Config } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import { UsageError } from "../errors.js";
import { readManifest } from "../runs/manifest.js";
import { requireRunDir, RUN_FILES } from "../runs/folder.js";
import { GENERATORS } from "../data/build.js";
import { writeBase, shippedBasesDir, type BaseMeta } from "./base-file.js";
import { latestWeights } from "./checkpoint.js";
import { readMetrics } from "./trainer.js";
import { runTraining, type TrainRunOptions, type TrainRunResult } from "./run.js";
import { openRunTokenizer } from "./run-tokenizer.js";
import { parseInit } from "./init.js";

/** The pretrain section of a config, or a UsageError saying what a pretraining config needs. */
export function requirePretrain(config: Config, where: string): NonNullable<Config["pretrain"]> {
  if (!config.pretrain) throw new UsageError(`${where}: no pretrain section; 'diffx pretrain' trains a base from a config that names it (pretrain.base) and its procedural corpus (see configs/pretrain-art-32.yaml)`);
  if (config.dataset.kind === "folder") throw new UsageError(`${where}: dataset.kind is 'folder'; a base is pretrained on a built-in generator's corpus (art or sketch2render)`);
  return config.pretrain;
}

/**
 * A base starts from scratch or continues another base (`train.init: base:NAME`, a second
 * pretraining stage with its own learning-rate cycle). Not from a run: a base must be
 * reproducible from what the package ships. And not from itself: writing base NAME from
 * base:NAME would replace the weights its own provenance names.
 */
export function checkPretrainInit(config: Config, file: string): void {
  const init = config.train.init;
  const spec = parseInit(init);
  if (spec.kind === "scratch") return;
  if (spec.kind !== "base") throw new UsageError(`${file}: train.init is ${init}; a base is pretrained from scratch or continues another base (base:NAME), so that it can be reproduced from the package`);
  if (spec.name === config.pretrain?.base) throw new UsageError(`${file}: train.init is ${init} and pretrain.base is ${config.pretrain?.base}: a base cannot continue itself (the new weights would replace the ones its provenance names); give pretrain.base another name`);
}

/** Pretrain: check the config is a pretraining config, then train exactly as `diffx train` does. */
export async function runPretrain(o: TrainRunOptions): Promise<TrainRunResult> {
  if (o.resume) {
    const runDir = requireRunDir(o.resume);
    requirePretrain(loadConfig(path.join(runDir, RUN_FILES.config)).config, runDir);
  } else {
    if (!o.configFile) throw new UsageError("give a pretraining CONFIG (e.g. configs/pretrain-art-32.yaml), or --resume RUN");
    const { config, file } = loadConfig(o.configFile, o.sets ?? []);
    requirePretrain(config, file);
    checkPretrainInit(config, file);
  }
  return runTraining(o);
}

/** The shipped folder of base `name` (where `diffx pretrain` writes by default). */
export function defaultBaseDir(name: string): string {
  return path.join(shippedBasesDir(), name);
}

/**
 * Write the base folder from a finished pretraining run: its final EMA weights, model and
 * diffusion sections, tokenizer, and provenance (corpus, config and hash, steps, final loss,
 * backend) plus the held-out `scores` (computed by the eval layer: eval/base-scores.ts).
 */
export function writeBaseFromRun(runDir: string, outDir: string, scores: Record<string, unknown>, diffxVersion: string): BaseMeta {
  const { config, hash } = loadConfig(path.join(runDir, RUN_FILES.config));
  const pre = requirePretrain(config, runDir);
  const manifest = readManifest(runDir);
  if (manifest.status !== "finished") throw new UsageError(`${runDir}: the pretraining run is ${manifest.status}, not finished; continue it with 'diffx pretrain --resume ${runDir}'`);
  const { step, params } = latestWeights(runDir, true);
  const metrics = readMetrics(runDir);
  const last = metrics.slice(-10);
  const gen = GENERATORS[config.dataset.kind === "folder" ? "art" : config.dataset.kind];
  return writeBase(outDir, params, {
    name: pre.base,
    diffxVersion,
    model: config.model,
    diffusion: config.diffusion,
    tokenizer: openRunTokenizer(runDir, config)?.toJSON() ?? null,
    extra: {
      corpus: { generator: gen.info.name, version: gen.info.version, kind: config.dataset.kind, seed: config.dataset.seed, n: config.dataset.n, image_size: config.dataset.image_size, dataset_hash: manifest.dataset_hash, captions: config.model.conditioning === "text" ? "English and Chinese (one drawn per training sample)" : "not used (sketch-conditioned)" },
      heldout: { seed: pre.heldout_seed, n: pre.heldout_n },
      pretraining: {
        init: manifest.init ? { source: manifest.init.source, sha256: manifest.init.sha256 } : "scratch",
        config_hash: hash,
        seed: config.seed,
        steps: step,
        batch_size: config.train.batch_size,
        lr: config.train.lr,
        ema: config.train.ema,
        final_loss: metrics.length ? metrics[metrics.length - 1].loss : null,
        mean_loss_last_logs: last.length ? last.reduce((s, m) => s + m.loss, 0) / last.length : null,
        backend: manifest.backend,
        started: manifest.started,
        finished: manifest.finished,
        config,
      },
      scores,
    },
  });
}
