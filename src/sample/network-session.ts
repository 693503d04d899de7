/**
 * What the samplers see of a trained network, whichever engine runs it (tfjs-network.ts,
 * export/onnx-network.ts): a batch call, and the denoiser built on it for a fixed batch of
 * conditions. Free of tfjs, so the onnx engine starts without loading it.
 */
import type { ModelConfig } from "../config/schema.js";
import type { Denoiser } from "../diffusion/samplers/types.js";
import type { ConditionInputs } from "./conditions.js";

export interface NetworkSession {
  /**
   * Network output for x [B·R·R·3], t [B], conditions of the same B rows, cond flags [B]
   * (1 = condition, 0 = null condition).
   */
  run(x: Float32Array, t: Float32Array, inputs: ConditionInputs, cond: Float32Array): Promise<Float32Array>;
  dispose(): void;
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
