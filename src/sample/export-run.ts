/**
 * `diffx export RUN` as a library function: the newest checkpoint's weights (EMA by default,
 * as sampling uses them: the run's sample.ema) traced to ONNX with src/export's exportModel,
 * written as `model.onnx` plus its `model.json` sidecar (schedule, prediction, tokenizer), by
 * default into RUN/export/ — where `diffx sample --engine onnx` picks it up.
 * A run without a checkpoint is a RuntimeFailure (exit 1): the run exists, it is not trained yet.
 * An existing export at the same path is replaced (it is derived from the checkpoint).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { exportModel, type ExportModelResult } from "../export/model-export.js";
import { UsageError } from "../errors.js";
import { mergeLora } from "../nn/lora.js";
import { recordRunOutputs, type RecordResult } from "./record-outputs.js";
import { defaultExportFile, loadRunWeights, openRun, tokenizerJson } from "./run-model.js";

export interface ExportRunOptions {
  run: string;
  /** Target .onnx file (or an existing folder: FILE = folder/model.onnx); default RUN/export/model.onnx. */
  out?: string;
  /** EMA weights (default: the run's sample.ema) or the raw ones. */
  ema?: boolean;
  /** A LoRA run: fold the adapter into the base weights, W + (α/r)·A·B, and write a plain model. */
  merge?: boolean;
}

export interface ExportRunResult extends ExportModelResult {
  runDir: string;
  step: number;
  ema: boolean;
  /** Whether an earlier export at the same path was replaced. */
  replaced: boolean;
  /** Whether the run's manifest lists the exported files (and why not). */
  runManifest: RecordResult;
}

export function exportRun(o: ExportRunOptions): ExportRunResult {
  const info = openRun(o.run);
  const ema = o.ema ?? info.config.sample.ema;
  let file = o.out === undefined ? defaultExportFile(info.runDir) : path.resolve(o.out);
  if (o.out !== undefined && (o.out.endsWith("/") || (fs.existsSync(file) && fs.statSync(file).isDirectory()))) file = path.join(file, "model.onnx");
  if (o.merge && !info.config.train.adapter) throw new UsageError(`--merge: ${info.runDir} has no adapter to merge (its config has no train.adapter)`);
  const weights = loadRunWeights(info, ema);
  const replaced = fs.existsSync(file);
  const merge = o.merge === true && weights.lora !== null;
  const result = exportModel({
    model: info.config.model,
    diffusion: info.config.diffusion,
    params: merge && weights.lora ? mergeLora(weights.params, weights.lora) : weights.params,
    lora: merge ? null : weights.lora,
    tokenizer: tokenizerJson(info),
    file,
    source: { run: info.runDir, step: weights.step, ema, config_hash: info.configHash, ...(weights.lora ? { lora: merge ? ("merged" as const) : ("unmerged" as const) } : {}) },
  });
  const runManifest = recordRunOutputs(info.runDir, [result.file, result.sidecarFile]);
  return { ...result, runDir: info.runDir, step: weights.step, ema, replaced, runManifest };
}
