/**
 * The diffx model on onnxruntime-node as the sampling code calls it: structurally the
 * `NetworkSession` of src/sample/network-session.ts, like src/sample/tfjs-network.ts (run(x, t,
 * conditions, cond) → output), so `diffx sample --engine onnx` only swaps the session. Built either from a run's weights
 * (traced in memory, no file) or from an exported model file and its sidecar.
 */
import type { ModelConfig } from "../config/schema.js";
import { RuntimeFailure } from "../errors.js";
import type { ParamMap } from "../model/params.js";
import type { LoraPlan } from "../nn/lora.js";
import { buildModelOnnx } from "./model-export.js";
import { createOnnxSession, releaseOnnxSession, runOnnx, type OnnxFeed, type OnnxSession, type OnnxSessionOptions } from "./onnx-runner.js";
import { loadOnnxExport, type OnnxSidecar } from "./sidecar.js";

/** Extra network inputs of a batch (as src/sample/conditions.ts's ConditionInputs). */
export interface OnnxConditionInputs {
  tokens?: Int32Array;
  sketch?: Float32Array;
}

export interface OnnxNetwork {
  /** Network output for x [B·R·R·3], t [B], the batch's conditions, cond flags [B] (1 = condition, 0 = null). */
  run(x: Float32Array, t: Float32Array, inputs: OnnxConditionInputs, cond: Float32Array): Promise<Float32Array>;
  dispose(): void;
  /** The onnxruntime session (provider, threads). */
  readonly session: OnnxSession;
}

/** Traces the model with these weights in memory and opens it in onnxruntime. */
export async function onnxNetworkFromParams(model: ModelConfig, params: ParamMap, options: OnnxSessionOptions = {}, lora: LoraPlan | null = null): Promise<OnnxNetwork> {
  const built = buildModelOnnx(model, params, lora);
  return wrap(model, await createOnnxSession(built.bytes, options));
}

/** Opens an exported model; its sidecar (checked against the file's sha256) supplies the config. */
export async function onnxNetworkFromFile(file: string, options: OnnxSessionOptions = {}): Promise<{ network: OnnxNetwork; sidecar: OnnxSidecar }> {
  const { sidecar } = loadOnnxExport(file);
  return { network: wrap(sidecar.model_config, await createOnnxSession(file, options)), sidecar };
}

function wrap(model: ModelConfig, session: OnnxSession): OnnxNetwork {
  const R = model.resolution;
  return {
    session,
    async run(x, t, inputs, cond) {
      const B = t.length;
      if (x.length !== B * R * R * 3) throw new RuntimeFailure(`ONNX network: x has ${x.length} values, expected ${B}×${R}×${R}×3`);
      const feeds: Record<string, OnnxFeed> = { x: { data: x, shape: [B, R, R, 3] }, t: { data: t, shape: [B] } };
      if (model.conditioning !== "none") feeds.cond = { data: cond, shape: [B] };
      if (model.conditioning === "text") {
        if (!inputs.tokens) throw new RuntimeFailure("ONNX network: a text-conditioned model needs token ids");
        feeds.tokens = { data: inputs.tokens, shape: [B, model.max_tokens] };
      }
      if (model.conditioning === "sketch") {
        if (!inputs.sketch) throw new RuntimeFailure("ONNX network: a sketch-conditioned model needs sketches");
        feeds.sketch = { data: inputs.sketch, shape: [B, R, R, 1] };
      }
      return runOnnx(session, feeds);
    },
    dispose() {
      void releaseOnnxSession(session);
    },
  };
}
