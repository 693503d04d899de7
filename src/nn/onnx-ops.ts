/**
 * The ONNX interpreter of the op interface: every call is recorded as ONNX nodes in an
 * `OnnxGraph`, the named parameters become initializers, and the result is a model file that
 * onnxruntime runs (IR 8, opset 17, symbolic batch dimension "batch").
 *
 * Layout. The network is NHWC (ops.ts), ONNX's Conv/Resize are NCHW. A value of rank 4 may be
 * stored in either layout, or both: `plain` (the logical NHWC layout) and/or `nchw`. Conv,
 * GroupNorm and upsampling produce NCHW; element-wise ops and concat stay in NCHW when an
 * operand exists only there; every other op (reshape, transpose, matMul, …) asks for the plain
 * layout, and a Transpose is inserted (once per value) only then. So a conv → norm → SiLU →
 * conv chain has no transposes at all. Values of other ranks are always plain; when one meets
 * an NCHW operand it is broadcast-aligned to rank 4 (leading 1s) and permuted the same way.
 *
 * Shapes. Every value carries its static shape; a dimension may be a multiple of the symbolic
 * batch size (`coef × batch`), so reshapes that fold the batch into another axis and back are
 * tracked exactly. `shape()` reports any batch-dependent dimension as -1 (ops.ts).
 */
import { RuntimeFailure } from "../errors.js";
import { attr, OnnxGraph, type OnnxDimSpec, type OnnxDType } from "./onnx-graph.js";
import type { Ops, Padding } from "./ops.js";

/** A parameter as stored in the flat parameter map (row-major data). */
export interface ParamTensor {
  shape: number[];
  data: Float32Array;
}

/** Where OnnxOps finds parameters by name. */
export type ParamLookup = (name: string) => ParamTensor | undefined;

/** One dimension: coef × B when `batch`, else coef (B = the symbolic batch size). */
interface Dim {
  coef: number;
  batch: boolean;
}

/** Names under which a value exists in the graph (at least one is set once it is used). */
interface Storage {
  /** The logical (NHWC for rank 4) layout. */
  plain?: string;
  /** Rank 4: the NCHW permutation. Rank < 4: broadcast-aligned to rank 4, then permuted. */
  nchw?: string;
  /** Conv weights only: OIHW. */
  oihw?: string;
}

/** A tensor in the graph being recorded. Opaque to network code except through `ops.shape`. */
export class OnnxValue {
  /** @internal */
  readonly storage: Storage;
  /** @internal */
  constructor(
    readonly dims: readonly Dim[],
    readonly dtype: OnnxDType,
    storage: Storage,
    readonly paramName: string | null = null,
  ) {
    this.storage = storage;
  }
  get rank(): number {
    return this.dims.length;
  }
}

const fixed = (n: number): Dim => ({ coef: n, batch: false });
const BATCH: Dim = { coef: 1, batch: true };
const dimEq = (a: Dim, b: Dim): boolean => a.coef === b.coef && a.batch === b.batch;
const isOne = (d: Dim): boolean => !d.batch && d.coef === 1;
const showDim = (d: Dim): string => (d.batch ? (d.coef === 1 ? "batch" : `${d.coef}*batch`) : String(d.coef));
const showDims = (ds: readonly Dim[]): string => `[${ds.map(showDim).join(", ")}]`;

/** Physical NCHW position of each logical NHWC axis. */
const NCHW_POS = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
const HWIO_TO_OIHW = [3, 2, 0, 1];

export class OnnxOps implements Ops<OnnxValue> {
  readonly graph = new OnnxGraph();
  private readonly params = new Map<string, { value: OnnxValue; tensor: ParamTensor }>();
  private readonly lookup: ParamLookup;

  constructor(params: ParamLookup | Map<string, ParamTensor>) {
    this.lookup = params instanceof Map ? (name) => params.get(name) : params;
  }

  // ---------------------------------------------------------------- graph inputs and outputs

  /** Declares a graph input. "batch" marks the symbolic batch dimension. */
  input(name: string, dtype: OnnxDType, shape: (number | "batch")[]): OnnxValue {
    this.graph.addInput(name, dtype, shape);
    return new OnnxValue(
      shape.map((d) => (d === "batch" ? BATCH : fixed(d))),
      dtype,
      { plain: name },
    );
  }

  /** Declares `x` (in its logical layout) as the graph output `name`. */
  output(x: OnnxValue, name: string): void {
    const dims: OnnxDimSpec[] = x.dims.map((d) => (!d.batch ? d.coef : d.coef === 1 ? "batch" : null));
    this.graph.addOutput(name, this.plainOf(x), x.dtype, dims);
  }

  // ---------------------------------------------------------------- Ops<OnnxValue>

  param(name: string): OnnxValue {
    const known = this.params.get(name);
    if (known) return known.value;
    const tensor = this.lookup(name);
    if (!tensor) throw new RuntimeFailure(`ONNX export: parameter "${name}" is not in the parameter map`);
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== count) throw new RuntimeFailure(`ONNX export: parameter "${name}" has ${tensor.data.length} values for shape [${tensor.shape.join(", ")}]`);
    const value = new OnnxValue(tensor.shape.map(fixed), "float32", {}, name);
    this.params.set(name, { value, tensor });
    return value;
  }

  constant(data: Float32Array, shape: number[]): OnnxValue {
    return new OnnxValue(shape.map(fixed), "float32", { plain: this.graph.floatConst(data, shape) });
  }

  shape(x: OnnxValue): number[] {
    return x.dims.map((d) => (d.batch ? -1 : d.coef));
  }

  add(a: OnnxValue, b: OnnxValue): OnnxValue {
    return this.binary("Add", a, b);
  }

  sub(a: OnnxValue, b: OnnxValue): OnnxValue {
    return this.binary("Sub", a, b);
  }

  mul(a: OnnxValue, b: OnnxValue): OnnxValue {
    return this.binary("Mul", a, b);
  }

  scale(x: OnnxValue, c: number): OnnxValue {
    const k = new OnnxValue([], "float32", { plain: this.graph.floatConst([c], []) });
    return this.binary("Mul", x, k);
  }

  matMul(a: OnnxValue, b: OnnxValue, transposeA = false, transposeB = false): OnnxValue {
    if (a.rank < 2 || b.rank < 2) throw new RuntimeFailure(`ONNX export: matMul needs rank ≥ 2 operands, got ${showDims(a.dims)} and ${showDims(b.dims)}`);
    const an = transposeA ? this.swapLastTwo(a) : this.plainOf(a);
    const bn = transposeB ? this.swapLastTwo(b) : this.plainOf(b);
    const ad = transposeA ? swapLast(a.dims) : a.dims;
    const bd = transposeB ? swapLast(b.dims) : b.dims;
    const [m, k1] = ad.slice(-2) as [Dim, Dim];
    const [k2, n] = bd.slice(-2) as [Dim, Dim];
    if (!dimEq(k1, k2)) throw new RuntimeFailure(`ONNX export: matMul inner sizes differ: ${showDims(ad)} · ${showDims(bd)}`);
    const batch = broadcastDims(ad.slice(0, -2), bd.slice(0, -2), "matMul");
    return this.plain([...batch, m, n], "float32", this.graph.node1("MatMul", [an, bn]));
  }

  linear(x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null): OnnxValue {
    if (weight.rank !== 2) throw new RuntimeFailure(`ONNX export: linear weight must be [in, out], got ${showDims(weight.dims)}`);
    const [wIn, wOut] = weight.dims as [Dim, Dim];
    const last = x.dims[x.rank - 1];
    if (!last || !dimEq(last, wIn)) throw new RuntimeFailure(`ONNX export: linear input ${showDims(x.dims)} does not match weight ${showDims(weight.dims)}`);
    const dims = [...x.dims.slice(0, -1), wOut];
    let y = this.graph.node1("MatMul", [this.plainOf(x), this.plainOf(weight)]);
    if (bias) {
      if (bias.rank !== 1 || !dimEq(bias.dims[0] as Dim, wOut)) throw new RuntimeFailure(`ONNX export: linear bias ${showDims(bias.dims)} does not match weight ${showDims(weight.dims)}`);
      y = this.graph.node1("Add", [y, this.plainOf(bias)]);
    }
    return this.plain(dims, "float32", y);
  }

  conv2d(x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, stride: number, pad: Padding): OnnxValue {
    if (x.rank !== 4 || weight.rank !== 4) throw new RuntimeFailure(`ONNX export: conv2d needs NHWC input and HWIO weight, got ${showDims(x.dims)} and ${showDims(weight.dims)}`);
    const [n, h, w, c] = x.dims as [Dim, Dim, Dim, Dim];
    const [kh, kw, ci, co] = weight.dims as [Dim, Dim, Dim, Dim];
    if (!dimEq(c, ci)) throw new RuntimeFailure(`ONNX export: conv2d input has ${showDim(c)} channels, weight expects ${showDim(ci)}`);
    if (h.batch || w.batch) throw new RuntimeFailure(`ONNX export: conv2d spatial size must be static, got ${showDims(x.dims)}`);
    const [top, bottom, left, right] = pad;
    const outH = Math.floor((h.coef + top + bottom - kh.coef) / stride) + 1;
    const outW = Math.floor((w.coef + left + right - kw.coef) / stride) + 1;
    if (outH < 1 || outW < 1) throw new RuntimeFailure(`ONNX export: conv2d output would be empty for input ${showDims(x.dims)} and kernel ${kh.coef}×${kw.coef}`);
    const inputs = [this.nchwOf(x), this.oihwOf(weight)];
    if (bias) {
      if (bias.rank !== 1 || !dimEq(bias.dims[0] as Dim, co)) throw new RuntimeFailure(`ONNX export: conv2d bias ${showDims(bias.dims)} does not match ${showDim(co)} output channels`);
      inputs.push(this.plainOf(bias));
    }
    const y = this.graph.node1("Conv", inputs, {
      kernel_shape: attr.ints([kh.coef, kw.coef]),
      strides: attr.ints([stride, stride]),
      pads: attr.ints([top, left, bottom, right]),
      dilations: attr.ints([1, 1]),
      group: attr.int(1),
    });
    return new OnnxValue([n, fixed(outH), fixed(outW), co], "float32", { nchw: y });
  }

  silu(x: OnnxValue): OnnxValue {
    return this.unary(x, (name) => this.graph.node1("Mul", [name, this.graph.node1("Sigmoid", [name])]));
  }

  sin(x: OnnxValue): OnnxValue {
    return this.unary(x, (name) => this.graph.node1("Sin", [name]));
  }

  cos(x: OnnxValue): OnnxValue {
    return this.unary(x, (name) => this.graph.node1("Cos", [name]));
  }

  softmax(x: OnnxValue): OnnxValue {
    return this.plain(x.dims, x.dtype, this.graph.node1("Softmax", [this.plainOf(x)], { axis: attr.int(-1) }));
  }

  groupNorm(x: OnnxValue, groups: number, gamma: OnnxValue, beta: OnnxValue, eps: number): OnnxValue {
    if (x.rank !== 4) throw new RuntimeFailure(`ONNX export: groupNorm needs NHWC input, got ${showDims(x.dims)}`);
    const c = x.dims[3] as Dim;
    if (c.batch || c.coef % groups !== 0) throw new RuntimeFailure(`ONNX export: groupNorm: ${showDim(c)} channels do not split into ${groups} groups`);
    for (const [what, v] of [["gamma", gamma], ["beta", beta]] as const) {
      if (v.rank !== 1 || !dimEq(v.dims[0] as Dim, c)) throw new RuntimeFailure(`ONNX export: groupNorm ${what} ${showDims(v.dims)} does not match ${showDim(c)} channels`);
    }
    const [, h, w] = x.dims as [Dim, Dim, Dim, Dim];
    const g = this.graph;
    // [N, C, H, W] → [N, G, C/G·H·W]: in NCHW each group's channels are contiguous.
    const grouped = g.node1("Reshape", [this.nchwOf(x), g.int64Const([0, groups, -1])]);
    const mean = g.node1("ReduceMean", [grouped], { axes: attr.ints([2]), keepdims: attr.int(1) });
    const centred = g.node1("Sub", [grouped, mean]);
    const variance = g.node1("ReduceMean", [g.node1("Mul", [centred, centred])], { axes: attr.ints([2]), keepdims: attr.int(1) });
    const std = g.node1("Sqrt", [g.node1("Add", [variance, g.floatConst([eps], [])])]);
    const normed = g.node1("Div", [centred, std]);
    const back = g.node1("Reshape", [normed, g.int64Const([0, c.coef, h.coef, w.coef])]);
    const y = g.node1("Add", [g.node1("Mul", [back, this.nchwOf(gamma)]), this.nchwOf(beta)]);
    return new OnnxValue(x.dims, "float32", { nchw: y });
  }

  layerNorm(x: OnnxValue, gamma: OnnxValue, beta: OnnxValue, eps: number): OnnxValue {
    const last = x.dims[x.rank - 1];
    for (const [what, v] of [["gamma", gamma], ["beta", beta]] as const) {
      if (!last || v.rank !== 1 || !dimEq(v.dims[0] as Dim, last)) throw new RuntimeFailure(`ONNX export: layerNorm ${what} ${showDims(v.dims)} does not match input ${showDims(x.dims)}`);
    }
    const y = this.graph.node1("LayerNormalization", [this.plainOf(x), this.plainOf(gamma), this.plainOf(beta)], { axis: attr.int(-1), epsilon: attr.float(eps) });
    return this.plain(x.dims, "float32", y);
  }

  concat(xs: OnnxValue[], axis: number): OnnxValue {
    const first = xs[0];
    if (!first) throw new RuntimeFailure("ONNX export: concat of no tensors");
    const rank = first.rank;
    const ax = normAxis(axis, rank, "concat");
    let along: Dim = fixed(0);
    for (const x of xs) {
      if (x.rank !== rank || x.dims.some((d, i) => i !== ax && !dimEq(d, first.dims[i] as Dim))) {
        throw new RuntimeFailure(`ONNX export: concat along axis ${axis}: shapes ${xs.map((v) => showDims(v.dims)).join(", ")} do not match`);
      }
      const d = x.dims[ax] as Dim;
      if (along.coef !== 0 && d.batch !== along.batch) throw new RuntimeFailure(`ONNX export: concat along a batch-sized and a fixed axis: ${xs.map((v) => showDims(v.dims)).join(", ")}`);
      along = { coef: along.coef + d.coef, batch: d.batch };
    }
    const dims = first.dims.map((d, i) => (i === ax ? along : d));
    if (rank === 4 && this.prefersNchw(xs)) {
      const y = this.graph.node1("Concat", xs.map((x) => this.nchwOf(x)), { axis: attr.int(NCHW_POS[ax] as number) });
      return new OnnxValue(dims, first.dtype, { nchw: y });
    }
    return this.plain(dims, first.dtype, this.graph.node1("Concat", xs.map((x) => this.plainOf(x)), { axis: attr.int(ax) }));
  }

  reshape(x: OnnxValue, shape: number[]): OnnxValue {
    const dims = reshapeDims(x.dims, shape);
    return this.plain(dims, x.dtype, this.graph.node1("Reshape", [this.plainOf(x), this.graph.int64Const(shape)]));
  }

  transpose(x: OnnxValue, perm: number[]): OnnxValue {
    if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
      throw new RuntimeFailure(`ONNX export: transpose perm [${perm.join(", ")}] is not a permutation of ${x.rank} axes`);
    }
    const dims = perm.map((p) => x.dims[p] as Dim);
    if (x.storage.plain === undefined && x.storage.nchw !== undefined && x.rank === 4) {
      // Read straight from the NCHW copy: logical axis p sits at physical axis NCHW_POS[p].
      const physical = perm.map((p) => NCHW_POS[p] as number);
      if (physical.every((p, i) => p === i)) return this.plain(dims, x.dtype, x.storage.nchw);
      return this.plain(dims, x.dtype, this.graph.node1("Transpose", [x.storage.nchw], { perm: attr.ints(physical) }));
    }
    if (perm.every((p, i) => p === i)) return x;
    return this.plain(dims, x.dtype, this.graph.node1("Transpose", [this.plainOf(x)], { perm: attr.ints(perm) }));
  }

  upsample2x(x: OnnxValue): OnnxValue {
    if (x.rank !== 4) throw new RuntimeFailure(`ONNX export: upsample2x needs NHWC input, got ${showDims(x.dims)}`);
    const [n, h, w, c] = x.dims as [Dim, Dim, Dim, Dim];
    // Nearest, asymmetric coordinates, floor: output pixel i reads input pixel ⌊i/2⌋ (as tfjs'
    // resizeNearestNeighbor without align-corners / half-pixel centres).
    const y = this.graph.node1("Resize", [this.nchwOf(x), "", this.graph.floatConst([1, 1, 2, 2], [4])], {
      mode: attr.string("nearest"),
      coordinate_transformation_mode: attr.string("asymmetric"),
      nearest_mode: attr.string("floor"),
    });
    return new OnnxValue([n, { coef: h.coef * 2, batch: h.batch }, { coef: w.coef * 2, batch: w.batch }, c], x.dtype, { nchw: y });
  }

  mean(x: OnnxValue, axes: number[], keepDims: boolean): OnnxValue {
    const norm = [...new Set(axes.map((a) => normAxis(a, x.rank, "mean")))].sort((a, b) => a - b);
    const dims = keepDims ? x.dims.map((d, i) => (norm.includes(i) ? fixed(1) : d)) : x.dims.filter((_, i) => !norm.includes(i));
    const y = this.graph.node1("ReduceMean", [this.plainOf(x)], { axes: attr.ints(norm), keepdims: attr.int(keepDims ? 1 : 0) });
    return this.plain(dims, x.dtype, y);
  }

  gather(table: OnnxValue, ids: OnnxValue): OnnxValue {
    if (table.rank !== 2) throw new RuntimeFailure(`ONNX export: gather table must be [vocab, dim], got ${showDims(table.dims)}`);
    if (ids.dtype === "float32") throw new RuntimeFailure("ONNX export: gather ids must be int32 or int64");
    const y = this.graph.node1("Gather", [this.plainOf(table), this.plainOf(ids)], { axis: attr.int(0) });
    return this.plain([...ids.dims, table.dims[1] as Dim], table.dtype, y);
  }

  // ---------------------------------------------------------------- layouts

  private plain(dims: readonly Dim[], dtype: OnnxDType, name: string): OnnxValue {
    return new OnnxValue(dims, dtype, { plain: name });
  }

  /** The value's name in its logical layout (inserting a Transpose or an initializer once). */
  private plainOf(x: OnnxValue): string {
    const s = x.storage;
    if (s.plain !== undefined) return s.plain;
    if (x.paramName !== null) {
      s.plain = this.paramInitializer(x.paramName, "", null);
      return s.plain;
    }
    if (s.nchw === undefined || x.rank !== 4) throw new RuntimeFailure("ONNX export: internal error: a value with no storage");
    s.plain = this.graph.node1("Transpose", [s.nchw], { perm: attr.ints(TO_NHWC) });
    return s.plain;
  }

  /** Rank 4: the NCHW copy. Rank < 4: aligned to rank 4 by leading 1s, then permuted likewise. */
  private nchwOf(x: OnnxValue): string {
    const s = x.storage;
    if (s.nchw !== undefined) return s.nchw;
    if (x.rank > 4) throw new RuntimeFailure(`ONNX export: internal error: NCHW view of a rank-${x.rank} value`);
    if (x.rank === 0) return this.plainOf(x);
    let src = this.plainOf(x);
    if (x.rank < 4) {
      const lead = Array.from({ length: 4 - x.rank }, (_, i) => i);
      src = this.graph.node1("Unsqueeze", [src, this.graph.int64Const(lead)]);
    }
    s.nchw = this.graph.node1("Transpose", [src], { perm: attr.ints(TO_NCHW) });
    return s.nchw;
  }

  /** A conv weight as OIHW: a permuted initializer for a parameter, a Transpose otherwise. */
  private oihwOf(w: OnnxValue): string {
    const s = w.storage;
    if (s.oihw !== undefined) return s.oihw;
    if (w.paramName !== null) {
      s.oihw = this.paramInitializer(w.paramName, ".oihw", HWIO_TO_OIHW);
    } else {
      s.oihw = this.graph.node1("Transpose", [this.plainOf(w)], { perm: attr.ints(HWIO_TO_OIHW) });
    }
    return s.oihw;
  }

  /**
   * Writes a parameter as an initializer, permuted by `perm` if given. The first form a
   * parameter is needed in takes its own name (so initializer names are the checkpoint's
   * names); a second form of the same parameter gets `suffix` (or ".hwio") appended.
   */
  private paramInitializer(name: string, suffix: string, perm: number[] | null): string {
    const entry = this.params.get(name);
    if (!entry) throw new RuntimeFailure(`ONNX export: internal error: unknown parameter "${name}"`);
    const { tensor } = entry;
    const taken = this.graph.hasName(name);
    const initName = taken ? name + (suffix || ".hwio") : name;
    if (perm) {
      const { data, shape } = permute(tensor.data, tensor.shape, perm);
      return this.graph.addInitializer(initName, "float32", shape, data);
    }
    return this.graph.addInitializer(initName, "float32", tensor.shape, tensor.data);
  }

  /** NCHW when the result is rank 4 and some rank-4 operand exists only in NCHW. */
  private prefersNchw(operands: OnnxValue[]): boolean {
    return operands.some((v) => v.rank === 4 && v.storage.nchw !== undefined && v.storage.plain === undefined);
  }

  private binary(op: "Add" | "Sub" | "Mul", a: OnnxValue, b: OnnxValue): OnnxValue {
    if (a.dtype !== b.dtype) throw new RuntimeFailure(`ONNX export: ${op} of ${a.dtype} and ${b.dtype}`);
    const dims = broadcastDims(a.dims, b.dims, op);
    if (dims.length === 4 && a.rank <= 4 && b.rank <= 4 && this.prefersNchw([a, b])) {
      return new OnnxValue(dims, a.dtype, { nchw: this.graph.node1(op, [this.nchwOf(a), this.nchwOf(b)]) });
    }
    return this.plain(dims, a.dtype, this.graph.node1(op, [this.plainOf(a), this.plainOf(b)]));
  }

  /** An element-wise unary op in whichever layout the input already has (NCHW preferred). */
  private unary(x: OnnxValue, emit: (name: string) => string): OnnxValue {
    if (x.rank === 4 && x.storage.nchw !== undefined) return new OnnxValue(x.dims, x.dtype, { nchw: emit(x.storage.nchw) });
    return this.plain(x.dims, x.dtype, emit(this.plainOf(x)));
  }

  private swapLastTwo(x: OnnxValue): string {
    const perm = x.dims.map((_, i) => i);
    perm[x.rank - 1] = x.rank - 2;
    perm[x.rank - 2] = x.rank - 1;
    return this.graph.node1("Transpose", [this.plainOf(x)], { perm: attr.ints(perm) });
  }
}

// ------------------------------------------------------------------ shape arithmetic

function swapLast(dims: readonly Dim[]): Dim[] {
  const out = [...dims];
  const n = out.length;
  [out[n - 2], out[n - 1]] = [out[n - 1] as Dim, out[n - 2] as Dim];
  return out;
}

function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RuntimeFailure(`ONNX export: ${op} axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcasting (right-aligned; size-1 dimensions stretch). */
function broadcastDims(a: readonly Dim[], b: readonly Dim[], op: string): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? fixed(1);
    const db = b[b.length - rank + i] ?? fixed(1);
    if (dimEq(da, db) || isOne(db)) out.push(da);
    else if (isOne(da)) out.push(db);
    else throw new RuntimeFailure(`ONNX export: ${op}: shapes ${showDims(a)} and ${showDims(b)} do not broadcast`);
  }
  return out;
}

/** ONNX Reshape shape inference: 0 copies the input size at that index, one -1 is inferred. */
function reshapeDims(input: readonly Dim[], shape: number[]): Dim[] {
  const fail = (why: string): never => {
    throw new RuntimeFailure(`ONNX export: reshape ${showDims(input)} to [${shape.join(", ")}]: ${why}`);
  };
  if (shape.filter((s) => s === -1).length > 1) fail("more than one -1");
  const out: (Dim | null)[] = shape.map((s, i) => {
    if (s === 0) return input[i] ?? fail(`0 at index ${i} has no input dimension to copy`);
    if (s === -1) return null;
    if (!Number.isInteger(s) || s < 0) return fail(`bad size ${s}`);
    return fixed(s);
  });
  const total = product(input);
  const known = product(out.filter((d): d is Dim => d !== null));
  const missing = out.indexOf(null);
  if (missing >= 0) {
    const power = total.power - known.power;
    const coef = known.coef === 0 ? NaN : total.coef / known.coef;
    if ((power !== 0 && power !== 1) || !Number.isInteger(coef)) fail("the -1 cannot be inferred");
    out[missing] = { coef, batch: power === 1 };
  } else if (total.power !== known.power || total.coef !== known.coef) {
    fail("the element counts differ");
  }
  return out as Dim[];
}

function product(dims: readonly Dim[]): { coef: number; power: number } {
  let coef = 1;
  let power = 0;
  for (const d of dims) {
    coef *= d.coef;
    if (d.batch) power++;
  }
  return { coef, power };
}

/** Row-major permutation of a float32 tensor (out axis i = in axis perm[i]). */
export function permute(data: Float32Array, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p] as number);
  const inStrides = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = (inStrides[i + 1] as number) * (shape[i + 1] as number);
  const strideOfOut = perm.map((p) => inStrides[p] as number);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src] as number;
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax] = (idx[ax] as number) + 1;
      src += strideOfOut[ax] as number;
      if ((idx[ax] as number) < (outShape[ax] as number)) break;
      src -= (strideOfOut[ax] as number) * (outShape[ax] as number);
      idx[ax] = 0;
    }
  }
  return { data: out, shape: outShape };
}
