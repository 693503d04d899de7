/**
 * The trained network on tfjs as the samplers see it (a Denoiser): parameters uploaded once,
 * each call runs `forward` through the tfjs interpreter for a batch of x_t, t and conditions,
 * with the conditional and null-condition halves in one batch for classifier-free guidance.
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelConfig } from "../config/schema.js";
import type { Denoiser } from "../diffusion/samplers/types.js";
import { forward } from "../model/model.js";
import type { ParamMap } from "../model/params.js";
import { TfjsOps, paramTensors, disposeTensors } from "../nn/tfjs-ops.js";
import { withLora, type LoraPlan } from "../nn/lora.js";
import type { ConditionInputs } from "./conditions.js";

export interface NetworkSession {
  /**
   * Network output for x [B·R·R·3], t [B], conditions of the same B rows, cond flags [B]
   * (1 = condition, 0 = null condition).
   */
  run(x: Float32Array, t: Float32Array, inputs: ConditionInputs, cond: Float32Array): Promise<Float32Array>;
  dispose(): void;
}

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

/** Stack condition inputs twice (conditional half, then null half). */
function doubled(inputs: ConditionInputs): ConditionInputs {
  const dup = <A extends Int32Array | Float32Array>(a: A | undefined): A | undefined => {
    if (!a) return undefined;
    const out = new (a.constructor as { new (n: number): A })(a.length * 2);
    out.set(a, 0);
    out.set(a, a.length);
    return out;
  };
  return { tokens: dup(inputs.tokens), sketch: dup(inputs.sketch) };
}

/**
 * A Denoiser for a fixed batch of conditions. With guidance w ≠ 1 and a conditional model,
 * each call runs the doubled batch (first half conditional, second half null) and the caller
 * wraps it with `guidedDenoiser`; otherwise a single conditional pass.
 */
export function conditionedDenoiser(session: NetworkSession, model: ModelConfig, inputs: ConditionInputs, guided: boolean): Denoiser {
  if (!guided || model.conditioning === "none") {
    return (x, t) => session.run(x, t, inputs, new Float32Array(t.length).fill(1));
  }
  const both = doubled(inputs);
  return (x2, t2) => {
    const n = t2.length / 2;
    const cond = new Float32Array(2 * n);
    cond.fill(1, 0, n);
    return session.run(x2, t2, both, cond);
  };
}
