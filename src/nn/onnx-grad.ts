/**
 * A third interpreter of the op interface: it records the network as ONNX nodes (like
 * onnx-ops.ts) and keeps a tape of every call, so that `backward(loss)` can append the
 * reverse-mode gradient graph (the vector-Jacobian product of each op, walked in reverse).
 * One onnxruntime session then computes the loss and every parameter gradient of a training
 * step. Used by src/train/onnx-gradients.ts.
 *
 * Differences from the export interpreter (onnx-ops.ts), all on purpose:
 * - Parameters are graph INPUTS (named by the parameter), not initializers, so the weights can
 *   change every step without rebuilding the session.
 * - Shapes are fully static: a training graph is built for one batch size.
 * - Every value is stored in its logical layout (NHWC for images, ops.ts). Conv and GroupNorm
 *   wrap themselves in NHWC ↔ NCHW Transposes; onnxruntime's transpose optimizer (graph
 *   optimisation level ≥ basic) cancels the pairs that meet and pushes the rest through
 *   element-wise ops, so the layout logic stays out of this file.
 *
 * Notation in the VJP comments: g = ∂loss/∂y for the op's output y; "unb" = sum over the
 * axes that broadcasting stretched (undoes numpy broadcasting, see `unbroadcast`).
 */
import { RuntimeFailure } from "../errors.js";
import { attr, OnnxGraph, type OnnxAttr, type OnnxDType } from "./onnx-graph.js";
import type { Ops, Padding } from "./ops.js";

/** A tensor in the graph being recorded: its ONNX name and static shape. */
export class GradValue {
  /** @internal */
  constructor(
    readonly name: string,
    readonly shape: readonly number[],
    readonly dtype: OnnxDType,
    /** True when the value depends on a parameter (so it needs a gradient). */
    readonly needsGrad: boolean,
    /** The parameter's name for a parameter input, else null. */
    readonly paramName: string | null = null,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
}

/** One recorded op: its output and how to turn the output's gradient into its inputs' gradients. */
interface TapeEntry {
  out: GradValue;
  /** Given g (same shape as `out`), the gradient contribution for each input that needs one. */
  vjp: (g: string) => [GradValue, string][];
}

const TO_NCHW = [0, 3, 1, 2];
/** TensorProto.DataType code of int64 (for Cast). */
const ONNX_INT64 = 7;
const TO_NHWC = [0, 2, 3, 1];
const HWIO_TO_OIHW = [3, 2, 0, 1];

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const showShape = (s: readonly number[]): string => `[${s.join(", ")}]`;

export class OnnxGradOps implements Ops<GradValue> {
  readonly graph = new OnnxGraph();
  private readonly tape: TapeEntry[] = [];
  private readonly params = new Map<string, GradValue>();
  private readonly frozenUsed = new Map<string, GradValue>();

  /**
   * @param paramShapes the shape of every trainable parameter the network may ask for, by name.
   * @param frozen parameters that are not trained (a LoRA run's base): written as initializers,
   *   never differentiated, so no gradient node is emitted for them or for anything that
   *   depends on them alone.
   */
  constructor(
    private readonly paramShapes: ReadonlyMap<string, readonly number[]>,
    private readonly frozen: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }> = new Map(),
  ) {}

  // ---------------------------------------------------------------- graph inputs and outputs

  /** Declares a (non-differentiated) graph input. */
  input(name: string, dtype: OnnxDType, shape: number[]): GradValue {
    this.graph.addInput(name, dtype, shape);
    return new GradValue(name, shape, dtype, false);
  }

  /** Declares `x` as the graph output `name`. */
  output(x: GradValue, name: string): void {
    this.graph.addOutput(name, x.name, x.dtype, [...x.shape]);
  }

  /** The parameters the network asked for, in first-use order. */
  usedParams(): GradValue[] {
    return [...this.params.values()];
  }

  /**
   * Appends the gradient graph of the scalar `loss` (seed ∂loss/∂loss = 1) and returns the
   * gradient value of every used parameter, by parameter name. A parameter whose gradient is
   * identically zero by structure (it does not reach the loss) is absent.
   */
  backward(loss: GradValue): Map<string, GradValue> {
    if (loss.rank !== 0) throw new RuntimeFailure(`backward: the loss must be a scalar, got shape ${showShape(loss.shape)}`);
    if (!loss.needsGrad) throw new RuntimeFailure("backward: the loss does not depend on any parameter");
    const grads = new Map<GradValue, string>([[loss, this.graph.floatConst([1], [])]]);
    for (let i = this.tape.length - 1; i >= 0; i--) {
      const entry = this.tape[i];
      const g = grads.get(entry.out);
      if (g === undefined) continue;
      for (const [input, gi] of entry.vjp(g)) {
        if (!input.needsGrad) continue;
        const prev = grads.get(input);
        grads.set(input, prev === undefined ? gi : this.node("Add", [prev, gi]));
      }
    }
    const out = new Map<string, GradValue>();
    for (const p of this.params.values()) {
      const g = grads.get(p);
      if (g !== undefined) out.set(p.paramName as string, new GradValue(g, p.shape, "float32", false));
    }
    return out;
  }

  // ---------------------------------------------------------------- Ops<GradValue>

  param(name: string): GradValue {
    const known = this.params.get(name) ?? this.frozenUsed.get(name);
    if (known) return known;
    const fixed = this.frozen.get(name);
    if (fixed) {
      this.graph.addInitializer(name, "float32", [...fixed.shape], fixed.data);
      const value = new GradValue(name, [...fixed.shape], "float32", false, name);
      this.frozenUsed.set(name, value);
      return value;
    }
    const shape = this.paramShapes.get(name);
    if (!shape) throw new RuntimeFailure(`model parameter "${name}" is not in the parameter map`);
    this.graph.addInput(name, "float32", [...shape]);
    const value = new GradValue(name, [...shape], "float32", true, name);
    this.params.set(name, value);
    return value;
  }

  constant(data: Float32Array, shape: number[]): GradValue {
    if (data.length !== size(shape)) throw new RuntimeFailure(`constant: ${data.length} values for shape ${showShape(shape)}`);
    return new GradValue(this.graph.floatConst(data, shape), shape, "float32", false);
  }

  shape(x: GradValue): number[] {
    return [...x.shape];
  }

  /** y = a + b. VJP: ga = unb(g), gb = unb(g). */
  add(a: GradValue, b: GradValue): GradValue {
    const shape = broadcastShapes(a.shape, b.shape);
    return this.record("Add", [a, b], shape, {}, (g) => [
      [a, a.needsGrad ? this.unbroadcast(g, shape, a.shape) : ""],
      [b, b.needsGrad ? this.unbroadcast(g, shape, b.shape) : ""],
    ]);
  }

  /** y = a − b. VJP: ga = unb(g), gb = −unb(g). */
  sub(a: GradValue, b: GradValue): GradValue {
    const shape = broadcastShapes(a.shape, b.shape);
    return this.record("Sub", [a, b], shape, {}, (g) => [
      [a, a.needsGrad ? this.unbroadcast(g, shape, a.shape) : ""],
      [b, b.needsGrad ? this.node("Neg", [this.unbroadcast(g, shape, b.shape)]) : ""],
    ]);
  }

  /** y = a · b (element-wise). VJP: ga = unb(g · b), gb = unb(g · a). */
  mul(a: GradValue, b: GradValue): GradValue {
    const shape = broadcastShapes(a.shape, b.shape);
    return this.record("Mul", [a, b], shape, {}, (g) => [
      [a, a.needsGrad ? this.unbroadcast(this.node("Mul", [g, b.name]), shape, a.shape) : ""],
      [b, b.needsGrad ? this.unbroadcast(this.node("Mul", [g, a.name]), shape, b.shape) : ""],
    ]);
  }

  /** y = x · c. VJP: gx = g · c. */
  scale(x: GradValue, c: number): GradValue {
    const k = this.graph.floatConst([c], []);
    const y = this.node("Mul", [x.name, k]);
    return this.push(y, x.shape, [x], (g) => [[x, this.node("Mul", [g, k])]]);
  }

  /**
   * y = op(a) · op(b) over the last two axes, op = transpose when asked. VJP (from
   * dL = tr(gᵀ dy)): for y = a·b, ga = g·bᵀ, gb = aᵀ·g; the transposed forms follow by
   * transposing those, e.g. y = a·bᵀ gives ga = g·b, gb = gᵀ·a. Batch axes are unbroadcast.
   */
  matMul(a: GradValue, b: GradValue, transposeA = false, transposeB = false): GradValue {
    if (a.rank < 2 || b.rank < 2) throw new RuntimeFailure(`matMul needs rank ≥ 2 operands, got ${showShape(a.shape)} and ${showShape(b.shape)}`);
    const [m, k1] = lastTwo(a.shape, transposeA);
    const [k2, n] = lastTwo(b.shape, transposeB);
    if (k1 !== k2) throw new RuntimeFailure(`matMul inner sizes differ: ${showShape(a.shape)} · ${showShape(b.shape)}`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const y = this.mm(a, b, transposeA, transposeB);
    return this.push(y, [...batch, m, n], [a, b], (g) => {
      const gv = new GradValue(g, [...batch, m, n], "float32", false);
      const out: [GradValue, string][] = [];
      if (a.needsGrad) {
        const ga = transposeA ? this.mm(b, gv, transposeB, true) : this.mm(gv, b, false, !transposeB);
        out.push([a, this.unbroadcast(ga, [...batch, ...a.shape.slice(-2)], a.shape)]);
      }
      if (b.needsGrad) {
        const gb = transposeB ? this.mm(gv, a, true, transposeA) : this.mm(a, gv, !transposeA, false);
        out.push([b, this.unbroadcast(gb, [...batch, ...b.shape.slice(-2)], b.shape)]);
      }
      return out;
    });
  }

  /**
   * y = x·W + b over the last axis (x folded to rows X [r, in]). VJP with G = g as [r, out]:
   * gX = G·Wᵀ, gW = Xᵀ·G, gb = Σ_rows G.
   */
  linear(x: GradValue, weight: GradValue, bias: GradValue | null): GradValue {
    if (weight.rank !== 2) throw new RuntimeFailure(`linear: weight must be [in, out], got ${showShape(weight.shape)}`);
    const [inDim, outDim] = weight.shape as [number, number];
    if (x.shape[x.rank - 1] !== inDim) throw new RuntimeFailure(`linear: input ${showShape(x.shape)} does not match weight ${showShape(weight.shape)}`);
    if (bias && (bias.rank !== 1 || bias.shape[0] !== outDim)) throw new RuntimeFailure(`linear: bias ${showShape(bias.shape)} does not match weight ${showShape(weight.shape)}`);
    const outShape = [...x.shape.slice(0, -1), outDim];
    const rows = this.reshapeName(x.name, [-1, inDim]);
    const y2 = this.node("Gemm", bias ? [rows, weight.name, bias.name] : [rows, weight.name]);
    const y = this.reshapeName(y2, outShape);
    const inputs = bias ? [x, weight, bias] : [x, weight];
    return this.push(y, outShape, inputs, (g) => {
      const g2 = this.reshapeName(g, [-1, outDim]);
      const out: [GradValue, string][] = [];
      if (x.needsGrad) out.push([x, this.reshapeName(this.node("Gemm", [g2, weight.name], { transB: attr.int(1) }), x.shape)]);
      if (weight.needsGrad) out.push([weight, this.node("Gemm", [rows, g2], { transA: attr.int(1) })]);
      if (bias?.needsGrad) out.push([bias, this.reduceSum(g2, [0], false)]);
      return out;
    });
  }

  /**
   * Conv on NHWC x and HWIO w, run as an NCHW Conv between Transposes. VJP:
   * - gx = the adjoint of the conv (see `convInputGrad`);
   * - gw[i, j, c, o] = Σ_{n,p,q} xpad[n, s·p + i, s·q + j, c] · g[n, p, q, o]: for each tap
   *   (i, j) one Gemm of the strided slice of the padded NHWC input, folded to [n·p·q, c] and
   *   transposed, times g as [n·p·q, o]; the kh·kw results stacked are HWIO;
   * - gb = Σ_{n,p,q} g.
   */
  conv2d(x: GradValue, weight: GradValue, bias: GradValue | null, stride: number, pad: Padding): GradValue {
    if (x.rank !== 4 || weight.rank !== 4) throw new RuntimeFailure(`conv2d needs NHWC input and HWIO weight, got ${showShape(x.shape)} and ${showShape(weight.shape)}`);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const [kh, kw, ci, co] = weight.shape as [number, number, number, number];
    if (c !== ci) throw new RuntimeFailure(`conv2d input has ${c} channels, weight expects ${ci}`);
    if (bias && (bias.rank !== 1 || bias.shape[0] !== co)) throw new RuntimeFailure(`conv2d bias ${showShape(bias.shape)} does not match ${co} output channels`);
    const [top, bottom, left, right] = pad;
    const oh = Math.floor((h + top + bottom - kh) / stride) + 1;
    const ow = Math.floor((w + left + right - kw) / stride) + 1;
    if (oh < 1 || ow < 1) throw new RuntimeFailure(`conv2d output would be empty for input ${showShape(x.shape)} and kernel ${kh}×${kw}`);
    const convAttrs = {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints([top, left, bottom, right]),
      dilations: attr.ints([1, 1]),
      group: attr.int(1),
    };
    const xn = this.transposeName(x.name, TO_NCHW);
    const wn = this.transposeName(weight.name, HWIO_TO_OIHW);
    const yn = this.node("Conv", bias ? [xn, wn, bias.name] : [xn, wn], convAttrs);
    const y = this.transposeName(yn, TO_NHWC);
    const inputs = bias ? [x, weight, bias] : [x, weight];
    return this.push(y, [n, oh, ow, co], inputs, (g) => {
      const out: [GradValue, string][] = [];
      if (x.needsGrad) out.push([x, this.convInputGrad(g, weight, wn, x.shape, stride, pad, [oh, ow])]);
      if (!weight.needsGrad) {
        // a frozen weight: no per-tap weight-gradient work at all
        if (bias?.needsGrad) out.push([bias, this.reduceSum(this.reshapeName(g, [-1, co]), [0], false)]);
        return out;
      }
      const xpad = top + bottom + left + right > 0 ? this.node("Pad", [x.name, this.graph.int64Const([0, top, left, 0, 0, bottom, right, 0])]) : x.name;
      const g2 = this.reshapeName(g, [-1, co]);
      const perTap: string[] = [];
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const starts = this.graph.int64Const([i, j]);
          const ends = this.graph.int64Const([i + stride * (oh - 1) + 1, j + stride * (ow - 1) + 1]);
          const tap = this.node("Slice", [xpad, starts, ends, this.graph.int64Const([1, 2]), this.graph.int64Const([stride, stride])]);
          perTap.push(this.node("Gemm", [this.reshapeName(tap, [-1, ci]), g2], { transA: attr.int(1) }));
        }
      }
      const stacked = perTap.length === 1 ? (perTap[0] as string) : this.node("Concat", perTap, { axis: attr.int(0) });
      out.push([weight, this.reshapeName(stacked, [kh, kw, ci, co])]);
      if (bias?.needsGrad) out.push([bias, this.reduceSum(g2, [0], false)]);
      return out;
    });
  }

  /** y = x · σ(x). VJP: gx = g · σ(x) · (1 + x · (1 − σ(x))). */
  silu(x: GradValue): GradValue {
    const s = this.node("Sigmoid", [x.name]);
    const y = this.node("Mul", [x.name, s]);
    return this.push(y, x.shape, [x], (g) => {
      const one = this.graph.floatConst([1], []);
      const inner = this.node("Add", [one, this.node("Mul", [x.name, this.node("Sub", [one, s])])]);
      return [[x, this.node("Mul", [g, this.node("Mul", [s, inner])])]];
    });
  }

  /** y = sin x. VJP: gx = g · cos x. */
  sin(x: GradValue): GradValue {
    return this.record("Sin", [x], x.shape, {}, (g) => [[x, this.node("Mul", [g, this.node("Cos", [x.name])])]]);
  }

  /** y = cos x. VJP: gx = −g · sin x. */
  cos(x: GradValue): GradValue {
    return this.record("Cos", [x], x.shape, {}, (g) => [[x, this.node("Neg", [this.node("Mul", [g, this.node("Sin", [x.name])])])]]);
  }

  /** y = softmax over the last axis. VJP: gx = y · (g − Σ_last g·y). */
  softmax(x: GradValue): GradValue {
    const y = this.node("Softmax", [x.name], { axis: attr.int(-1) });
    return this.push(y, x.shape, [x], (g) => {
      const dot = this.reduceSum(this.node("Mul", [g, y]), [x.rank - 1], true);
      return [[x, this.node("Mul", [y, this.node("Sub", [g, dot])])]];
    });
  }

  /**
   * GroupNorm: per (sample, group) x̂ = (x − μ)·r with r = 1/√(σ² + eps) (statistics over
   * H, W and the group's channels, computed in NCHW where a group is contiguous), then
   * y = x̂·γ + β. VJP with d = g·γ and means over each (sample, group):
   * gx = r · (d − mean(d) − x̂ · mean(d · x̂)), gγ = Σ_{n,h,w} g·x̂, gβ = Σ_{n,h,w} g.
   */
  groupNorm(x: GradValue, groups: number, gamma: GradValue, beta: GradValue, eps: number): GradValue {
    if (x.rank !== 4) throw new RuntimeFailure(`groupNorm needs NHWC input, got ${showShape(x.shape)}`);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    if (c % groups !== 0) throw new RuntimeFailure(`groupNorm: ${c} channels do not split into ${groups} groups`);
    for (const v of [gamma, beta]) if (v.rank !== 1 || v.shape[0] !== c) throw new RuntimeFailure(`groupNorm: gamma/beta ${showShape(v.shape)} do not match ${c} channels`);
    const toGroups = (nhwc: string): string => this.reshapeName(this.transposeName(nhwc, TO_NCHW), [n, groups, -1]);
    const fromGroups = (grouped: string): string => this.transposeName(this.reshapeName(grouped, [n, c, h, w]), TO_NHWC);
    const { xhat: xhatG, rstd } = this.normalize(toGroups(x.name), eps);
    const xhat = fromGroups(xhatG);
    const y = this.node("Add", [this.node("Mul", [xhat, gamma.name]), beta.name]);
    return this.push(y, x.shape, [x, gamma, beta], (g) => {
      const out: [GradValue, string][] = [];
      if (x.needsGrad) out.push([x, fromGroups(this.normalizeGrad(toGroups(this.node("Mul", [g, gamma.name])), xhatG, rstd))]);
      if (gamma.needsGrad) out.push([gamma, this.reduceSum(this.node("Mul", [g, xhat]), [0, 1, 2], false)]);
      if (beta.needsGrad) out.push([beta, this.reduceSum(g, [0, 1, 2], false)]);
      return out;
    });
  }

  /** LayerNorm over the last axis: the GroupNorm formulas with one group per row. */
  layerNorm(x: GradValue, gamma: GradValue, beta: GradValue, eps: number): GradValue {
    const last = x.shape[x.rank - 1];
    for (const v of [gamma, beta]) if (v.rank !== 1 || v.shape[0] !== last) throw new RuntimeFailure(`layerNorm: gamma/beta ${showShape(v.shape)} do not match input ${showShape(x.shape)}`);
    const { xhat, rstd } = this.normalize(x.name, eps);
    const y = this.node("Add", [this.node("Mul", [xhat, gamma.name]), beta.name]);
    const allButLast = x.shape.slice(0, -1).map((_, i) => i);
    return this.push(y, x.shape, [x, gamma, beta], (g) => {
      const out: [GradValue, string][] = [];
      if (x.needsGrad) out.push([x, this.normalizeGrad(this.node("Mul", [g, gamma.name]), xhat, rstd)]);
      if (gamma.needsGrad) out.push([gamma, this.reduceSum(this.node("Mul", [g, xhat]), allButLast, false)]);
      if (beta.needsGrad) out.push([beta, this.reduceSum(g, allButLast, false)]);
      return out;
    });
  }

  /** y = the inputs joined along `axis`. VJP: each input gets its slice of g (Split). */
  concat(xs: GradValue[], axis: number): GradValue {
    const first = xs[0];
    if (!first) throw new RuntimeFailure("concat of no tensors");
    const ax = normAxis(axis, first.rank, "concat");
    for (const x of xs) {
      if (x.rank !== first.rank || x.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
        throw new RuntimeFailure(`concat along axis ${axis}: shapes ${xs.map((v) => showShape(v.shape)).join(", ")} do not match`);
      }
    }
    const sizes = xs.map((x) => x.shape[ax] as number);
    const shape = first.shape.map((d, i) => (i === ax ? sizes.reduce((a, b) => a + b, 0) : d));
    return this.record("Concat", xs, shape, { axis: attr.int(ax) }, (g) => {
      const parts = this.graph.node("Split", [g, this.graph.int64Const(sizes)], { axis: attr.int(ax) }, xs.length);
      return xs.map((x, i) => [x, parts[i] as string]);
    });
  }

  /** VJP: gx = g reshaped back to x's shape. */
  reshape(x: GradValue, shape: number[]): GradValue {
    const resolved = resolveReshape(x.shape, shape);
    const y = this.reshapeName(x.name, resolved);
    return this.push(y, resolved, [x], (g) => [[x, this.reshapeName(g, x.shape)]]);
  }

  /** VJP: gx = g transposed by the inverse permutation. */
  transpose(x: GradValue, perm: number[]): GradValue {
    if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
      throw new RuntimeFailure(`transpose perm [${perm.join(", ")}] is not a permutation of ${x.rank} axes`);
    }
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return this.push(this.transposeName(x.name, perm), perm.map((p) => x.shape[p] as number), [x], (g) => [[x, this.transposeName(g, inverse)]]);
  }

  /**
   * Nearest 2×: [N, H, W, C] → [N, H, 1, W, 1, C] → Expand to [N, H, 2, W, 2, C] → [N, 2H, 2W, C]
   * (output pixel i reads input ⌊i/2⌋). VJP: 2×2 sum pooling, i.e. g as [N, H, 2, W, 2, C]
   * summed over the two size-2 axes.
   */
  upsample2x(x: GradValue): GradValue {
    if (x.rank !== 4) throw new RuntimeFailure(`upsample2x needs NHWC input, got ${showShape(x.shape)}`);
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const spread = this.node("Expand", [this.reshapeName(x.name, [n, h, 1, w, 1, c]), this.graph.int64Const([n, h, 2, w, 2, c])]);
    const y = this.reshapeName(spread, [n, 2 * h, 2 * w, c]);
    return this.push(y, [n, 2 * h, 2 * w, c], [x], (g) => [[x, this.reduceSumTo(this.reshapeName(g, [n, h, 2, w, 2, c]), [2, 4], x.shape)]]);
  }

  /** y = mean over `axes`. VJP: gx = g / count, expanded back over the reduced axes. */
  mean(x: GradValue, axes: number[], keepDims: boolean): GradValue {
    const norm = [...new Set(axes.map((a) => normAxis(a, x.rank, "mean")))].sort((a, b) => a - b);
    const kept = x.shape.map((d, i) => (norm.includes(i) ? 1 : d));
    const shape = keepDims ? kept : x.shape.filter((_, i) => !norm.includes(i));
    const count = norm.reduce((a, i) => a * (x.shape[i] as number), 1);
    const y = this.node("ReduceMean", [x.name], { axes: attr.ints(norm), keepdims: attr.int(keepDims ? 1 : 0) });
    return this.push(y, shape, [x], (g) => {
      const scaled = this.node("Mul", [this.reshapeName(g, kept), this.graph.floatConst([1 / count], [])]);
      return [[x, this.node("Expand", [scaled, this.graph.int64Const([...x.shape])])]];
    });
  }

  /**
   * Rows of `table` [vocab, dim] picked by `ids`. VJP: gtable = onehot(ids)ᵀ · g with ids
   * flattened to [r] and g to [r, dim] (a scatter-add written as one deterministic Gemm).
   */
  gather(table: GradValue, ids: GradValue): GradValue {
    if (table.rank !== 2) throw new RuntimeFailure(`gather table must be [vocab, dim], got ${showShape(table.shape)}`);
    if (ids.dtype === "float32") throw new RuntimeFailure("gather ids must be int32 or int64");
    const [vocab, dim] = table.shape as [number, number];
    const shape = [...ids.shape, dim];
    return this.record("Gather", [table, ids], shape, { axis: attr.int(0) }, (g) => {
      const ids64 = this.node("Cast", [this.reshapeName(ids.name, [-1])], { to: attr.int(ONNX_INT64) }); // ORT's CPU OneHot takes int64 ids
      const oneHot = this.node("OneHot", [ids64, this.graph.int64Const([vocab], []), this.graph.floatConst([0, 1], [2])], { axis: attr.int(-1) });
      return [[table, this.node("Gemm", [oneHot, this.reshapeName(g, [-1, dim])], { transA: attr.int(1) })]];
    });
  }

  // ---------------------------------------------------------------- recording helpers

  private node(op: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}): string {
    return this.graph.node1(op, inputs, attrs);
  }

  /** Emits a one-node op on the inputs' names and records it. */
  private record(op: string, inputs: GradValue[], shape: readonly number[], attrs: Record<string, OnnxAttr>, vjp: TapeEntry["vjp"]): GradValue {
    return this.push(this.node(op, inputs.map((v) => v.name), attrs), shape, inputs, vjp);
  }

  /** Records an already emitted output; the VJP runs only if some input needs a gradient. */
  private push(name: string, shape: readonly number[], inputs: GradValue[], vjp: TapeEntry["vjp"]): GradValue {
    const needsGrad = inputs.some((v) => v.needsGrad);
    const out = new GradValue(name, [...shape], "float32", needsGrad);
    if (needsGrad) this.tape.push({ out, vjp: (g) => vjp(g).filter(([v]) => v.needsGrad) });
    return out;
  }

  private reshapeName(name: string, shape: readonly number[]): string {
    return this.node("Reshape", [name, this.graph.int64Const([...shape])]);
  }

  private transposeName(name: string, perm: number[]): string {
    return this.node("Transpose", [name], { perm: attr.ints(perm) });
  }

  private reduceSum(name: string, axes: number[], keepDims: boolean): string {
    return this.node("ReduceSum", [name, this.graph.int64Const(axes)], { keepdims: attr.int(keepDims ? 1 : 0) });
  }

  /** Σ over `axes`, then reshaped to `shape`. */
  private reduceSumTo(name: string, axes: number[], shape: readonly number[]): string {
    return this.reshapeName(this.reduceSum(name, axes, true), shape);
  }

  /** Sums g of shape `from` down to shape `to` (undoes numpy broadcasting). */
  private unbroadcast(g: string, from: readonly number[], to: readonly number[]): string {
    const lead = from.length - to.length;
    const axes: number[] = [];
    from.forEach((d, i) => {
      if (i < lead || (to[i - lead] === 1 && d !== 1)) axes.push(i);
    });
    if (axes.length === 0) return lead === 0 ? g : this.reshapeName(g, to);
    return this.reduceSumTo(g, axes, to);
  }

  /** MatMul of op(a)·op(b) with op = swap of the last two axes when asked. */
  private mm(a: GradValue, b: GradValue, ta: boolean, tb: boolean): string {
    const swap = (v: GradValue): string => {
      const perm = v.shape.map((_, i) => i);
      perm[v.rank - 1] = v.rank - 2;
      perm[v.rank - 2] = v.rank - 1;
      return this.transposeName(v.name, perm);
    };
    return this.node("MatMul", [ta ? swap(a) : a.name, tb ? swap(b) : b.name]);
  }

  /**
   * The conv's input gradient, NHWC. Stride 1: a Conv of g with the flipped, in/out-swapped
   * kernel, w'[c, o, i, j] = w[kh−1−i, kw−1−j, c, o], padded by k−1−pad (the full correlation
   * of g with the kernel). Otherwise ConvTranspose(g, w) with the forward strides and pads and
   * output_padding for the rows/columns a strided conv never read.
   */
  private convInputGrad(g: string, weight: GradValue, oihw: string, xShape: readonly number[], stride: number, pad: Padding, outSize: [number, number]): string {
    const [kh, kw] = weight.shape as [number, number];
    const [, h, w] = xShape as [number, number, number];
    const [top, bottom, left, right] = pad;
    const [oh, ow] = outSize;
    const gn = this.transposeName(g, TO_NCHW);
    const fullPads = [kh - 1 - top, kw - 1 - left, kh - 1 - bottom, kw - 1 - right];
    let gxn: string;
    if (stride === 1 && fullPads.every((p) => p >= 0)) {
      const swapped = this.transposeName(weight.name, [2, 3, 0, 1]); // HWIO → [in, out, kh, kw]
      const flipped = this.node("Slice", [swapped, this.graph.int64Const([kh - 1, kw - 1]), this.graph.int64Const([-kh - 1, -kw - 1]), this.graph.int64Const([2, 3]), this.graph.int64Const([-1, -1])]);
      gxn = this.node("Conv", [gn, flipped], { kernel_shape: attr.ints([kh, kw]), strides: attr.ints([1, 1]), pads: attr.ints(fullPads), dilations: attr.ints([1, 1]), group: attr.int(1) });
    } else {
      const outPadH = h - (stride * (oh - 1) + kh - top - bottom);
      const outPadW = w - (stride * (ow - 1) + kw - left - right);
      gxn = this.node("ConvTranspose", [gn, oihw], {
        kernel_shape: attr.ints([kh, kw]),
        strides: attr.ints([stride, stride]),
        pads: attr.ints([top, left, bottom, right]),
        dilations: attr.ints([1, 1]),
        group: attr.int(1),
        output_padding: attr.ints([outPadH, outPadW]),
      });
    }
    return this.transposeName(gxn, TO_NHWC);
  }

  /** x̂ = (x − mean) / √(var + eps) over the last axis, with r = 1/√(var + eps) kept for the VJP. */
  private normalize(x: string, eps: number): { xhat: string; rstd: string } {
    const mean = this.node("ReduceMean", [x], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const centred = this.node("Sub", [x, mean]);
    const variance = this.node("ReduceMean", [this.node("Mul", [centred, centred])], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const rstd = this.node("Reciprocal", [this.node("Sqrt", [this.node("Add", [variance, this.graph.floatConst([eps], [])])])]);
    return { xhat: this.node("Mul", [centred, rstd]), rstd };
  }

  /** The normalisation VJP over the last axis: r · (d − mean(d) − x̂ · mean(d · x̂)). */
  private normalizeGrad(d: string, xhat: string, rstd: string): string {
    const mean = (v: string): string => this.node("ReduceMean", [v], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    const inner = this.node("Sub", [this.node("Sub", [d, mean(d)]), this.node("Mul", [xhat, mean(this.node("Mul", [d, xhat]))])]);
    return this.node("Mul", [inner, rstd]);
  }
}

// ------------------------------------------------------------------ shape arithmetic

function lastTwo(shape: readonly number[], transposed: boolean): [number, number] {
  const r = shape[shape.length - 2] as number;
  const c = shape[shape.length - 1] as number;
  return transposed ? [c, r] : [r, c];
}

function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RuntimeFailure(`${op} axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Numpy broadcasting (right-aligned; size-1 dimensions stretch). */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new RuntimeFailure(`shapes ${showShape(a)} and ${showShape(b)} do not broadcast`);
  }
  return out;
}

/** ONNX Reshape on a static shape: 0 copies the input size at that index, one -1 is inferred. */
function resolveReshape(input: readonly number[], shape: number[]): number[] {
  if (shape.filter((s) => s === -1).length > 1) throw new RuntimeFailure(`reshape to [${shape.join(", ")}]: more than one -1`);
  const out = shape.map((s, i) => {
    if (s !== 0) return s;
    const d = input[i];
    if (d === undefined) throw new RuntimeFailure(`reshape ${showShape(input)} to [${shape.join(", ")}]: 0 at index ${i} has no input dimension`);
    return d;
  });
  const known = out.filter((s) => s !== -1).reduce((a, b) => a * b, 1);
  const total = size(input);
  const missing = out.indexOf(-1);
  if (missing >= 0) {
    if (known === 0 || total % known !== 0) throw new RuntimeFailure(`reshape ${showShape(input)} to [${shape.join(", ")}]: the -1 cannot be inferred`);
    out[missing] = total / known;
  } else if (known !== total) {
    throw new RuntimeFailure(`reshape ${showShape(input)} to [${shape.join(", ")}]: the element counts differ`);
  }
  return out;
}
