/**
 * Will a tfjs-gradient training step fit in the wasm backend's heap? tfjs-backend-wasm 4.22 is
 * a 32-bit WebAssembly build whose heap cannot grow past 4 GiB − 64 KiB (getHeapMax in its
 * wasm-out/*.js); a step that needs more does not fail but spins in malloc. So training refuses
 * such a step up front, with the estimate, instead of hanging.
 *
 * The estimate: 4 bytes × (3 × parameters (variables, gradients, the update's temporaries) +
 * ACTIVATION_FACTOR × the elements of every op output of one forward at the worker's batch, as
 * the shape-only interpreter counts them). tf.variableGrads keeps the forward's tensors for the
 * backward pass, and the composite ops (GroupNorm, attention, SiLU) and the backward add several
 * more of each size: on the bench network the heap grew by 4.7 × the counted outputs per added
 * sample (0.49 GiB per 16 samples at 32 px, 0.10 GiB counted), so the factor is 5.
 */
import type { Config } from "../config/schema.js";
import { forward, modelParamSpecs } from "../model/model.js";
import type { Ops } from "../nn/ops.js";
import { ShapeOps } from "../nn/shape-ops.js";

/** tfjs-backend-wasm 4.22's largest heap (bytes). */
export const WASM_HEAP_MAX_BYTES = 4294901760;
const ACTIVATION_FACTOR = 5;

/** `ops` that also counts the elements of every op output (parameters and constants excluded). */
function countingOutputs(ops: ShapeOps): { ops: Ops<number[]>; elements: () => number } {
  let elements = 0;
  const counted = new Proxy(ops, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== "function" || key === "param" || key === "constant" || key === "shape") return value;
      return (...args: unknown[]): unknown => {
        const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (Array.isArray(out) && out.every((d) => typeof d === "number")) elements += (out as number[]).reduce((a, b) => a * b, 1);
        return out;
      };
    },
  });
  return { ops: counted, elements: () => elements };
}

/**
 * Estimated peak wasm heap of one tfjs training step of `config`'s model: `fixed` bytes for the
 * parameters plus `perSample` bytes for each sample of the batch (activations grow with it).
 */
export function tfjsStepHeap(config: Config, vocabSize: number): { fixed: number; perSample: number } {
  const m = config.model;
  const specs = modelParamSpecs(m, vocabSize);
  const params = specs.reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
  const { ops, elements } = countingOutputs(new ShapeOps(new Map(specs.map((p) => [p.name, p.shape]))));
  const R = m.resolution;
  forward(ops, m, { x: [1, R, R, 3], t: [1], cond: [1], tokens: [1, m.max_tokens], sketch: [1, R, R, 1] });
  return { fixed: 4 * 3 * params, perSample: 4 * ACTIVATION_FACTOR * elements() };
}

/**
 * Why a tfjs step of `batch` samples on wasm would not fit (a message naming the numbers and
 * what to change), or null when it fits. `where` names the config key's origin for the message.
 */
export function tfjsWasmHeapRefusal(config: Config, batch: number, vocabSize: number, where: string): string | null {
  const { fixed, perSample } = tfjsStepHeap(config, vocabSize);
  const need = fixed + batch * perSample;
  if (need <= WASM_HEAP_MAX_BYTES) return null;
  const gib = (b: number): string => (b / 2 ** 30).toFixed(1);
  const fits = Math.floor((WASM_HEAP_MAX_BYTES - fixed) / perSample);
  return (
    `${where}: engine.gradients tfjs on the wasm backend would need about ${gib(need)} GiB of wasm heap for a step of ${batch} samples, ` +
    `more than its ${gib(WASM_HEAP_MAX_BYTES)} GiB limit (where it would hang, not fail); use engine.gradients: onnx (or auto)` +
    (fits >= 1 ? `, or a per-worker batch of at most ${fits}` : "")
  );
}
