/**
 * LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") as an op-interface
 * layer: `withLora(ops, plan)` wraps any interpreter (tfjs, ONNX forward, ONNX forward +
 * gradient) so that every `linear` / `conv2d` whose weight is a parameter of an adapted layer
 * also runs the low-rank branch. The network code does not change; the adapter's gradients come
 * from the same graph as everything else (DESIGN.md).
 *
 * For an adapted layer `L` (weight `L.weight`), with scale s = α / r:
 *   linear, W [in, out]:          y = x·W + b + s · (x·A)·B,      A = `L.lora_a` [in, r], B = `L.lora_b` [r, out]
 *   conv,   W HWIO [k, k, in, out]: y = conv(x, W) + b + s · conv(x, A)·B,
 *                                  A = `L.lora_a` HWIO [k, k, in, r] (same stride and padding as W),
 *                                  B = `L.lora_b` [r, out] (a 1×1 conv, written as a linear over channels)
 * These are peft's `Linear` and `Conv2d` LoRA layers in this repo's layouts (peft: lora_A
 * [r, in] / Conv2d(in, r, k), lora_B [out, r] / Conv2d(r, out, 1), result + lora_B(lora_A(x))·s).
 *
 * Merging folds the branch into the weight: with W viewed as [k·k·in, out] (HWIO is row-major
 * with O last, so a conv weight is that matrix) and A as [k·k·in, r], W' = W + s·A·B — in
 * PyTorch's layouts W + s·B·A for a linear, and peft's conv merge for a conv.
 */
import { RuntimeFailure } from "../errors.js";
import type { Ops, Padding } from "./ops.js";

/** Which layers carry an adapter and the branch's scale α / r. */
export interface LoraPlan {
  /** α / r. */
  scale: number;
  /** Adapted layers by name (the weight's name without ".weight"). */
  layers: ReadonlySet<string>;
}

export const loraAName = (layer: string): string => `${layer}.lora_a`;
export const loraBName = (layer: string): string => `${layer}.lora_b`;
const WEIGHT_SUFFIX = ".weight";

/** `ops` with the LoRA branch added to every adapted linear and conv (see the file comment). */
export function withLora<T>(ops: Ops<T>, plan: LoraPlan): Ops<T> {
  return new LoraOps(ops, plan);
}

class LoraOps<T> implements Ops<T> {
  /** Parameter values handed out, to recognise a layer's weight when it reaches linear/conv2d. */
  private readonly names = new Map<T, string>();

  constructor(
    private readonly inner: Ops<T>,
    private readonly plan: LoraPlan,
  ) {}

  /** The adapted layer whose weight `w` is, or null. */
  private layerOf(w: T): string | null {
    const name = this.names.get(w);
    if (name === undefined || !name.endsWith(WEIGHT_SUFFIX)) return null;
    const layer = name.slice(0, -WEIGHT_SUFFIX.length);
    return this.plan.layers.has(layer) ? layer : null;
  }

  private branch(y: T, low: T): T {
    return this.inner.add(y, this.inner.scale(low, this.plan.scale));
  }

  param(name: string): T {
    const v = this.inner.param(name);
    this.names.set(v, name);
    return v;
  }

  linear(x: T, weight: T, bias: T | null): T {
    const y = this.inner.linear(x, weight, bias);
    const layer = this.layerOf(weight);
    if (layer === null) return y;
    const a = this.inner.param(loraAName(layer));
    const b = this.inner.param(loraBName(layer));
    return this.branch(y, this.inner.linear(this.inner.linear(x, a, null), b, null));
  }

  conv2d(x: T, weight: T, bias: T | null, stride: number, pad: Padding): T {
    const y = this.inner.conv2d(x, weight, bias, stride, pad);
    const layer = this.layerOf(weight);
    if (layer === null) return y;
    const a = this.inner.param(loraAName(layer));
    const b = this.inner.param(loraBName(layer));
    return this.branch(y, this.inner.linear(this.inner.conv2d(x, a, null, stride, pad), b, null));
  }

  constant(data: Float32Array, shape: number[]): T {
    return this.inner.constant(data, shape);
  }
  shape(x: T): number[] {
    return this.inner.shape(x);
  }
  add(a: T, b: T): T {
    return this.inner.add(a, b);
  }
  sub(a: T, b: T): T {
    return this.inner.sub(a, b);
  }
  mul(a: T, b: T): T {
    return this.inner.mul(a, b);
  }
  scale(x: T, c: number): T {
    return this.inner.scale(x, c);
  }
  matMul(a: T, b: T, transposeA?: boolean, transposeB?: boolean): T {
    return this.inner.matMul(a, b, transposeA, transposeB);
  }
  silu(x: T): T {
    return this.inner.silu(x);
  }
  sin(x: T): T {
    return this.inner.sin(x);
  }
  cos(x: T): T {
    return this.inner.cos(x);
  }
  softmax(x: T): T {
    return this.inner.softmax(x);
  }
  groupNorm(x: T, groups: number, gamma: T, beta: T, eps: number): T {
    return this.inner.groupNorm(x, groups, gamma, beta, eps);
  }
  layerNorm(x: T, gamma: T, beta: T, eps: number): T {
    return this.inner.layerNorm(x, gamma, beta, eps);
  }
  concat(xs: T[], axis: number): T {
    return this.inner.concat(xs, axis);
  }
  reshape(x: T, shape: number[]): T {
    return this.inner.reshape(x, shape);
  }
  transpose(x: T, perm: number[]): T {
    return this.inner.transpose(x, perm);
  }
  upsample2x(x: T): T {
    return this.inner.upsample2x(x);
  }
  mean(x: T, axes: number[], keepDims: boolean): T {
    return this.inner.mean(x, axes, keepDims);
  }
  gather(table: T, ids: T): T {
    return this.inner.gather(table, ids);
  }
}

/** A parameter on the host (structurally model/params.ts's HostParam). */
export interface LoraHostParam {
  shape: number[];
  data: Float32Array;
}

/**
 * The merged weight W + s·A·B of one layer (see the file comment), accumulated in float64 and
 * rounded to float32 once. W is [in, out] or HWIO [k, k, in, out]; A is [in, r] or [k, k, in, r];
 * B is [r, out].
 */
export function mergedWeight(w: LoraHostParam, a: LoraHostParam, b: LoraHostParam, scale: number, layer: string): LoraHostParam {
  const out = w.shape[w.shape.length - 1] as number;
  const rows = w.data.length / out;
  const r = a.shape[a.shape.length - 1] as number;
  const ok = a.data.length === rows * r && b.shape.length === 2 && b.shape[0] === r && b.shape[1] === out && a.shape.slice(0, -1).join(",") === w.shape.slice(0, -1).join(",");
  if (!ok) throw new RuntimeFailure(`LoRA merge of "${layer}": weight [${w.shape.join(", ")}], lora_a [${a.shape.join(", ")}] and lora_b [${b.shape.join(", ")}] do not fit together`);
  const data = new Float32Array(w.data.length);
  for (let i = 0; i < rows; i++) {
    for (let o = 0; o < out; o++) {
      let sum = 0;
      for (let k = 0; k < r; k++) sum += (a.data[i * r + k] as number) * (b.data[k * out + o] as number);
      data[i * out + o] = (w.data[i * out + o] as number) + scale * sum;
    }
  }
  return { shape: w.shape.slice(), data };
}

/**
 * A plain parameter map with every adapter folded in: each adapted `L.weight` replaced by its
 * merged weight, the `L.lora_a` / `L.lora_b` entries dropped, everything else copied by reference.
 */
export function mergeLora<P extends LoraHostParam>(params: ReadonlyMap<string, P>, plan: LoraPlan): Map<string, LoraHostParam> {
  const out = new Map<string, LoraHostParam>();
  const adapterNames = new Set<string>();
  for (const layer of plan.layers) adapterNames.add(loraAName(layer)).add(loraBName(layer));
  for (const [name, p] of params) if (!adapterNames.has(name)) out.set(name, p);
  for (const layer of plan.layers) {
    const get = (name: string): LoraHostParam => {
      const p = params.get(name);
      if (!p) throw new RuntimeFailure(`LoRA merge: parameter "${name}" is missing`);
      return p;
    };
    out.set(`${layer}${WEIGHT_SUFFIX}`, mergedWeight(get(`${layer}${WEIGHT_SUFFIX}`), get(loraAName(layer)), get(loraBName(layer)), plan.scale, layer));
  }
  return out;
}
