/**
 * What sampling and export need from a trained run folder: its resolved config (and hash),
 * its tokenizer (text models), and the weights of its newest checkpoint (EMA or raw).
 * The config and tokenizer are read first and cheaply, so argument errors are reported before
 * any weights are loaded.
 */
import * as path from "node:path";
import type { Config } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { checkParams, type ParamMap } from "../model/params.js";
import { modelParamSpecs } from "../model/model.js";
import { Tokenizer, type TokenizerJson } from "../model/tokenizer.js";
import { requireRunDir, RUN_FILES } from "../runs/folder.js";
import { checkpointFiles, requireUnchangedIfRecorded } from "../runs/integrity.js";
import { openRunTokenizer } from "../train/run-tokenizer.js";
import { checkpointDir, latestWeights, listCheckpoints } from "../train/checkpoint.js";
import { networkWeights } from "../train/adapter.js";
import type { LoraPlan } from "../nn/lora.js";

/** What the files of a run are checked against its manifest for, before they are read (runs/integrity.ts). */
const USE = "sample from it or export it";

/** The run's tokenizer file (written by `diffx train` for text models). */
export const RUN_TOKENIZER_FILE = RUN_FILES.tokenizer;

export interface RunInfo {
  /** Absolute run folder. */
  runDir: string;
  config: Config;
  /** sha256 of the resolved config (as recorded in the run manifest). */
  configHash: string;
  /** Text models only. */
  tokenizer: Tokenizer | null;
}

export interface RunWeights {
  /** Training step of the checkpoint the weights come from. */
  step: number;
  ema: boolean;
  /** For a LoRA run (train.adapter): the base's weights and the adapter's. */
  params: ParamMap;
  /** The LoRA adapter the network runs, or null. */
  lora: LoraPlan | null;
}

/** Opens a run folder: config and tokenizer (UsageError for a missing or foreign folder). */
export function openRun(run: string): RunInfo {
  const runDir = requireRunDir(run);
  const { config, hash } = loadConfig(path.join(runDir, RUN_FILES.config));
  if (config.model.conditioning === "text") requireUnchangedIfRecorded(runDir, [RUN_TOKENIZER_FILE], USE);
  const tokenizer = openRunTokenizer(runDir, config);
  return { runDir, config, configHash: hash, tokenizer };
}

/** The step of the run's newest complete checkpoint (RuntimeFailure, exit 1, if there is none). */
export function latestStep(runDir: string): number {
  const steps = listCheckpoints(runDir);
  const last = steps[steps.length - 1];
  if (last === undefined) throw new RuntimeFailure(`${runDir}: the run has no checkpoint yet (train it first)`);
  return last;
}

/** The newest checkpoint's weights, checked against the run's model config. */
export function loadRunWeights(info: RunInfo, ema: boolean): RunWeights {
  const name = ema ? "ema" : "params";
  requireUnchangedIfRecorded(info.runDir, checkpointFiles(latestStep(info.runDir), [`${name}.bin`, `${name}.json`]), USE);
  const vocab = info.tokenizer?.size ?? 0;
  if (info.config.train.adapter) {
    // the adapter on the base it was trained on (checked by sha256), as the LoRA layer runs it
    const w = networkWeights(info.runDir, info.config, vocab, ema);
    return { step: w.step, ema, params: w.params, lora: w.lora };
  }
  const { step, params } = latestWeights(info.runDir, ema);
  const specs = modelParamSpecs(info.config.model, vocab);
  checkParams(specs, params, path.join(checkpointDir(info.runDir, step), ema ? "ema.bin" : "params.bin"));
  return { step, ema, params, lora: null };
}

/** The tokenizer as stored (for the export sidecar). */
export function tokenizerJson(info: RunInfo): TokenizerJson | null {
  return info.tokenizer ? info.tokenizer.toJSON() : null;
}

/** A UsageError for a `--flag` value that is not what it should be. */
export function badOption(flag: string, want: string, got: unknown): UsageError {
  return new UsageError(`${flag} must be ${want}, got ${typeof got === "string" ? JSON.stringify(got) : String(got)}`);
}

/** Where `diffx export RUN` writes by default, and where `--engine onnx` looks for an export. */
export function defaultExportFile(runDir: string): string {
  return path.join(runDir, "export", "model.onnx");
}
