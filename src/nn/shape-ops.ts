/**
 * A shape-only interpreter of the op interface: every value is its static shape. Tests use it
 * to check whole-size configs, the bench to count FLOPs, training to estimate memory.
 * It checks each op's operand shapes (broadcasting, matMul inner dims, conv channels, …) and
 * records which parameters the network reads, so whole-size configs can be checked without
 * computing anything. It also counts the multiply-add FLOPs of conv2d / matMul / linear
 * (2 per multiply-add, per sample: the batch dimension is left out).
 */
import type { Ops, Padding } from "./ops.js";

export class ShapeOps implements Ops<number[]> {
  readonly used = new Set<string>();
  flops = 0;
  constructor(private readonly paramShapes: ReadonlyMap<string, number[]>) {}

  param(name: string): number[] {
    const s = this.paramShapes.get(name);
    if (!s) throw new Error(`undeclared parameter "${name}"`);
    this.used.add(name);
    return s;
  }
  constant(data: Float32Array, shape: number[]): number[] {
    if (data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error("constant: size mismatch");
    return shape;
  }
  shape(x: number[]): number[] {
    return x.slice();
  }
  add(a: number[], b: number[]): number[] {
    return broadcast(a, b, "add");
  }
  sub(a: number[], b: number[]): number[] {
    return broadcast(a, b, "sub");
  }
  mul(a: number[], b: number[]): number[] {
    return broadcast(a, b, "mul");
  }
  scale(x: number[]): number[] {
    return x;
  }
  matMul(a: number[], b: number[], tA = false, tB = false): number[] {
    if (a.length !== b.length || a.length < 2) throw new Error(`matMul ranks [${a}] [${b}]`);
    const batch = a.slice(0, -2);
    if (batch.some((d, i) => d !== b[i])) throw new Error(`matMul batch [${a}] [${b}]`);
    const [m, k] = tA ? [a[a.length - 1], a[a.length - 2]] : [a[a.length - 2], a[a.length - 1]];
    const [k2, n] = tB ? [b[b.length - 1], b[b.length - 2]] : [b[b.length - 2], b[b.length - 1]];
    if (k !== k2) throw new Error(`matMul inner dims [${a}] [${b}]`);
    this.flops += 2 * batch.slice(1).reduce((p, q) => p * q, 1) * m * k * n;
    return [...batch, m, n];
  }
  linear(x: number[], w: number[], b: number[] | null): number[] {
    if (w.length !== 2 || x[x.length - 1] !== w[0] || (b && (b.length !== 1 || b[0] !== w[1]))) throw new Error(`linear x [${x}] w [${w}] b [${b}]`);
    this.flops += 2 * x.slice(1, -1).reduce((p, q) => p * q, 1) * w[0] * w[1];
    return [...x.slice(0, -1), w[1]];
  }
  conv2d(x: number[], w: number[], b: number[] | null, stride: number, pad: Padding): number[] {
    const [n, h, wd, c] = x;
    const [kh, kw, ci, co] = w;
    if (x.length !== 4 || w.length !== 4 || c !== ci || (b && b[0] !== co)) throw new Error(`conv2d x [${x}] w [${w}]`);
    const oh = (h + pad[0] + pad[1] - kh) / stride + 1;
    const ow = (wd + pad[2] + pad[3] - kw) / stride + 1;
    this.flops += 2 * Math.floor(oh) * Math.floor(ow) * kh * kw * ci * co;
    return [n, Math.floor(oh), Math.floor(ow), co];
  }
  silu(x: number[]): number[] {
    return x;
  }
  sin(x: number[]): number[] {
    return x;
  }
  cos(x: number[]): number[] {
    return x;
  }
  softmax(x: number[]): number[] {
    return x;
  }
  groupNorm(x: number[], groups: number, gamma: number[], beta: number[]): number[] {
    const c = x[3];
    if (x.length !== 4 || c % groups !== 0 || gamma[0] !== c || beta[0] !== c) throw new Error(`groupNorm x [${x}] groups ${groups} gamma [${gamma}]`);
    return x;
  }
  layerNorm(x: number[], gamma: number[], beta: number[]): number[] {
    if (gamma[0] !== x[x.length - 1] || beta[0] !== x[x.length - 1]) throw new Error(`layerNorm x [${x}] gamma [${gamma}]`);
    return x;
  }
  concat(xs: number[][], axis: number): number[] {
    const out = xs[0].slice();
    for (const x of xs.slice(1)) {
      if (x.length !== out.length || x.some((d, i) => i !== axis && d !== out[i])) throw new Error(`concat [${xs.join("] [")}]`);
      out[axis] += x[axis];
    }
    return out;
  }
  reshape(x: number[], shape: number[]): number[] {
    const size = x.reduce((a, b) => a * b, 1);
    const resolved = shape.map((d, i) => (d === 0 ? x[i] : d));
    const known = resolved.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const out = resolved.map((d) => (d === -1 ? size / known : d));
    if (out.reduce((a, b) => a * b, 1) !== size || !out.every(Number.isInteger)) throw new Error(`reshape [${x}] → [${shape}]`);
    return out;
  }
  transpose(x: number[], perm: number[]): number[] {
    return perm.map((p) => x[p]);
  }
  upsample2x(x: number[]): number[] {
    return [x[0], 2 * x[1], 2 * x[2], x[3]];
  }
  mean(x: number[], axes: number[], keepDims: boolean): number[] {
    return keepDims ? x.map((d, i) => (axes.includes(i) ? 1 : d)) : x.filter((_, i) => !axes.includes(i));
  }
  gather(table: number[], ids: number[]): number[] {
    if (table.length !== 2 || ids.length !== 2) throw new Error(`gather table [${table}] ids [${ids}]`);
    return [...ids, table[1]];
  }
}

function broadcast(a: number[], b: number[], what: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${what}: cannot broadcast [${a}] with [${b}]`);
    out.push(Math.max(da, db));
  }
  return out;
}
