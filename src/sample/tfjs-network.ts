/**
 * The trained network on tfjs as the samplers see it (a Denoiser): parameters uploaded once,
 * each call runs `forward` through the tfjs interpreter for a batch of x_t, t and conditions,
 * with the conditional and null-condition halves in one batch for classifier-free guidance.
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../config/schema.js";
import { forward } from "../model/model.js";
import type { ParamMap } from "../model/params.js";
import { TfjsOps, paramTensors, disposeTensors } from "../nn/tfjs-ops.js";
import { withLora, type LoraPlan } from "../nn/lora.js";
import type { NetworkSession } from "./network-session.js";

/** `lora`: run the adapter among `params` as a LoRA layer (src/nn/lora.ts). */
export function tfjsNetwork(model: ModelConfig, params: ParamMap, lora: LoraPlan | null = null): NetworkSession {
  const tensors = paramTensors(params);
  const ops = lora ? withLora(new TfjsOps(tensors), lora) : new TfjsOps(tensors);
  const R = model.resolution;
  return {
    async run(x, t, inputs, cond) {
      const B = t.length;
      const out = tf.tidy(() =>
        forward(ops, model, {
          x: tf.tensor(x, [B, R, R, 3], "float32"),
          t: tf.tensor(t, [B], "float32"),
          cond: tf.tensor(cond, [B], "float32"),
          tokens: inputs.tokens ? tf.tensor(inputs.tokens, [B, model.max_tokens], "int32") : undefined,
          sketch: inputs.sketch ? tf.tensor(inputs.sketch, [B, R, R, 1], "float32") : undefined,
        }),
      );
      const data = (await out.data()) as Float32Array;
      out.dispose();
      // tfjs on wasm/cpu computes synchronously: let pending events (Ctrl-C) run between calls
      await new Promise<void>((resolve) => setImmediate(resolve));
      return data;
    },
    dispose() {
      disposeTensors(tensors);
    },
  };
}
