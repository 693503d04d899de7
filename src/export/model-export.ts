/**
 * Export of the diffx model (src/model) itself: its graph inputs, its forward as a traced
 * function, and `exportModel`, which writes `<name>.onnx` plus the `<name>.json` sidecar.
 *
 * Graph inputs (all with the symbolic batch "batch"):
 *   x       float32 [batch, R, R, 3]   noisy images x_t, NHWC
 *   t       float32 [batch]            timesteps in diffusion steps (0 … T−1)
 *   cond    float32 [batch]            1 = use the condition, 0 = the learned null condition
 *                                      (conditional models only)
 *   tokens  int32   [batch, max_tokens] caption token ids (text models)
 *   sketch  float32 [batch, R, R, 1]   sketch pixels in [−1, 1] (sketch models)
 * Output "out" float32 [batch, R, R, 3]: ε or v, as `prediction` in the sidecar says.
 */
import * as path from "node:path";
import type { DiffusionConfig, ModelConfig } from "../config/schema.js";
import { sha256 } from "../engine/hash.js";
import { UsageError } from "../errors.js";
import { forward } from "../model/model.js";
import type { ParamMap } from "../model/params.js";
import { SKETCH_CHANNELS } from "../model/sketch-encoder.js";
import type { TokenizerJson } from "../model/tokenizer.js";
import { IMAGE_CHANNELS } from "../model/unet.js";
import type { Ops } from "../nn/ops.js";
import { withLora, type LoraPlan } from "../nn/lora.js";
import { DIFFX_VERSION } from "../runs/version.js";
import { buildOnnxModel, type BuiltOnnxModel, type ExportInput, type TracedForward } from "./onnx-export.js";
import { ONNX_SIDECAR_FORMAT, sidecarPathFor, writeOnnxSidecar, type OnnxSidecar } from "./sidecar.js";
import { writeFileAtomic } from "../engine/atomic.js";

export const MODEL_OUTPUT = "out";

/** The exported model's graph inputs for this model config (see the file comment). */
export function modelExportInputs(model: ModelConfig): ExportInput[] {
  const R = model.resolution;
  const inputs: ExportInput[] = [
    { name: "x", dtype: "float32", shape: ["batch", R, R, IMAGE_CHANNELS] },
    { name: "t", dtype: "float32", shape: ["batch"] },
  ];
  if (model.conditioning !== "none") inputs.push({ name: "cond", dtype: "float32", shape: ["batch"] });
  if (model.conditioning === "text") inputs.push({ name: "tokens", dtype: "int32", shape: ["batch", model.max_tokens] });
  if (model.conditioning === "sketch") inputs.push({ name: "sketch", dtype: "float32", shape: ["batch", R, R, SKETCH_CHANNELS] });
  return inputs;
}

/** src/model's forward with its inputs taken from the graph inputs by name. */
export function modelTracedForward(model: ModelConfig, lora: LoraPlan | null = null): TracedForward {
  return <T>(plain: Ops<T>, v: Record<string, T>): T => {
    const ops = lora ? withLora(plain, lora) : plain;
    const x = v.x;
    const t = v.t;
    if (x === undefined || t === undefined) throw new UsageError("model export: the graph inputs x and t are required");
    // Unconditional models ignore `cond`; it is still an argument of the forward.
    const cond = v.cond ?? t;
    return forward(ops, model, { x, t, cond, tokens: v.tokens, sketch: v.sketch });
  };
}

/** The model as ONNX bytes (for an in-memory onnxruntime session, or to write). */
export function buildModelOnnx(model: ModelConfig, params: ParamMap, lora: LoraPlan | null = null): BuiltOnnxModel {
  return buildOnnxModel(modelTracedForward(model, lora), params, modelExportInputs(model), { outputName: MODEL_OUTPUT, graphName: "diffx-unet" });
}

export interface ExportModelRequest {
  model: ModelConfig;
  diffusion: Pick<DiffusionConfig, "schedule" | "timesteps" | "prediction">;
  /** The weights to export (EMA or raw, as the caller chose). */
  params: ParamMap;
  /** A LoRA adapter among `params` to trace as a LoRA layer (unmerged); absent or null: a plain model. */
  lora?: LoraPlan | null;
  /** The run's tokenizer (text models); null otherwise. */
  tokenizer: TokenizerJson | null;
  /** Target `.onnx` file; the sidecar goes beside it (`model.onnx` → `model.json`). */
  file: string;
  source: OnnxSidecar["source"];
}

export interface ExportModelResult {
  file: string;
  sidecarFile: string;
  sidecar: OnnxSidecar;
  bytes: number;
  sha256: string;
  nodeCount: number;
  opCounts: Record<string, number>;
  parameterCount: number;
}

/** Traces the model, writes `<file>` and its JSON sidecar (both atomically). */
export function exportModel(req: ExportModelRequest): ExportModelResult {
  if (!/\.onnx$/i.test(req.file)) throw new UsageError(`${req.file}: the exported model file must end in .onnx`);
  if (req.model.conditioning === "text" && !req.tokenizer) throw new UsageError("model export: a text-conditioned model needs its tokenizer");
  const built = buildModelOnnx(req.model, req.params, req.lora ?? null);
  const hash = sha256(built.bytes);
  const sidecar: OnnxSidecar = {
    format: ONNX_SIDECAR_FORMAT,
    diffx_version: DIFFX_VERSION,
    model_file: path.basename(req.file),
    model_sha256: hash,
    source: req.source,
    prediction: req.diffusion.prediction,
    schedule: { kind: req.diffusion.schedule, timesteps: req.diffusion.timesteps },
    resolution: req.model.resolution,
    image_channels: IMAGE_CHANNELS,
    conditioning: req.model.conditioning,
    inputs: modelExportInputs(req.model),
    output: { name: built.outputName, shape: built.outputShape },
    tokenizer: req.model.conditioning === "text" ? req.tokenizer : null,
    max_tokens: req.model.conditioning === "text" ? req.model.max_tokens : null,
    model_config: req.model,
  };
  const sidecarFile = sidecarPathFor(req.file);
  // Model first, then the sidecar that vouches for it (loadOnnxExport checks the hash).
  writeFileAtomic(req.file, built.bytes);
  writeOnnxSidecar(sidecarFile, sidecar);
  return {
    file: req.file,
    sidecarFile,
    sidecar,
    bytes: built.bytes.byteLength,
    sha256: hash,
    nodeCount: built.nodeCount,
    opCounts: built.opCounts,
    parameterCount: built.parameterCount,
  };
}
