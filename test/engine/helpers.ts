/** Shared helpers for the engine tests: fixtures recorded from PyTorch and error measures. */
import { readFileSync } from "node:fs";

export interface ConvCase {
  name: string;
  stride: number;
  /** [top, bottom, left, right] */
  pad: [number, number, number, number];
  xShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  yShape: [number, number, number, number];
  x: number[];
  filter: number[];
  dy: number[];
  y: number[];
  dx: number[];
  dfilter: number[];
}

export interface ResizeCase {
  name: string;
  xShape: [number, number, number, number];
  size: [number, number];
  x: number[];
  y: number[];
  dy: number[];
  dx: number[];
}

function fixture<T>(name: string): { cases: T[] } {
  return JSON.parse(readFileSync(new URL(`../fixtures/engine/${name}`, import.meta.url), "utf8")) as { cases: T[] };
}

export const convCases = (): ConvCase[] => fixture<ConvCase>("conv_grads.json").cases;
export const resizeCases = (): ResizeCase[] => fixture<ResizeCase>("resize_nearest_grads.json").cases;

/** max |got − want| / max |want|: the error relative to the reference's scale. */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return scale === 0 ? err : err / scale;
}

/** tfjs explicit padding from [top, bottom, left, right]. */
export function explicitPad(pad: [number, number, number, number]): [[number, number], [number, number], [number, number], [number, number]] {
  return [
    [0, 0],
    [pad[0], pad[1]],
    [pad[2], pad[3]],
    [0, 0],
  ];
}

/** TF's 'same' padding [top, bottom] along one axis (total = max((out − 1)·s + k − n, 0), top = floor(total / 2)). */
export function tfSamePad(n: number, k: number, s: number): [number, number] {
  const out = Math.ceil(n / s);
  const total = Math.max((out - 1) * s + k - n, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** 'same' or 'valid' when a case's explicit padding is exactly what that keyword means in TF, else null. */
export function keywordPad(c: ConvCase): "same" | "valid" | null {
  const [kh, kw] = c.filterShape;
  const [, h, w] = c.xShape;
  if (c.pad.every((p) => p === 0)) return "valid";
  const [t, b] = tfSamePad(h, kh, c.stride);
  const [l, r] = tfSamePad(w, kw, c.stride);
  return c.pad[0] === t && c.pad[1] === b && c.pad[2] === l && c.pad[3] === r ? "same" : null;
}

/** Arbitrary, reproducible values in [−0.5, 0.5): a fixed LCG (no Math.random). */
export function seededValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}
