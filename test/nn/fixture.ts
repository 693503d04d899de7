/** Reading the PyTorch fixtures of test/fixtures/model/ and comparing tensors against them. */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { multiHeadAttention, timestepEmbedding } from "../../src/nn/layers.js";
import type { Ops, Padding } from "../../src/nn/ops.js";

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "model");

export interface EncodedTensor {
  shape: number[];
  f32?: string;
  i32?: string;
}

export function readFixture(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), "utf8"));
}

function bytes(b64: string): ArrayBuffer {
  const buf = Buffer.from(b64, "base64");
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

export function decodeF32(e: EncodedTensor): Float32Array {
  if (e.f32 === undefined) throw new Error("fixture tensor is not float32");
  return new Float32Array(bytes(e.f32));
}

export function toTensor(e: EncodedTensor): tf.Tensor {
  if (e.i32 !== undefined) return tf.tensor(new Int32Array(bytes(e.i32)), e.shape, "int32");
  return tf.tensor(decodeF32(e), e.shape, "float32");
}

/** max |a − b| / max(max |b|, floor): the error relative to the reference tensor's scale. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 0): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  const scale = Math.max(maxRef, floor);
  return scale === 0 ? maxDiff : maxDiff / scale;
}

export function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
  return actual.length === expected.length && actual.every((d, i) => d === expected[i]);
}

/** One case of ops.json (make_ops.py): an op, its inputs, the output and the gradients of sum(out · r). */
export interface OpCase {
  op: string;
  inputs: Record<string, EncodedTensor>;
  r: EncodedTensor;
  out: EncodedTensor;
  grads: Record<string, EncodedTensor>;
  ids?: EncodedTensor;
  groups?: number;
  eps?: number;
  stride?: number;
  pad?: number[];
  heads?: number;
  dim?: number;
  transposeA?: boolean;
  transposeB?: boolean;
}

/** Runs an ops.json case's op on any implementation of the op interface (tfjs, ONNX graph). */
export function applyOpCase<T>(ops: Ops<T>, c: OpCase, x: Record<string, T>, ids: T | null): T {
  switch (c.op) {
    case "groupNorm":
      return ops.groupNorm(x.x, c.groups!, x.gamma, x.beta, c.eps!);
    case "layerNorm":
      return ops.layerNorm(x.x, x.gamma, x.beta, c.eps!);
    case "conv2d":
      return ops.conv2d(x.x, x.weight, x.bias, c.stride!, c.pad as Padding);
    case "upsample2x":
      return ops.upsample2x(x.x);
    case "softmax":
      return ops.softmax(x.x);
    case "linear":
      return ops.linear(x.x, x.weight, x.bias ?? null);
    case "matMul":
      return ops.matMul(x.a, x.b, c.transposeA, c.transposeB);
    case "gather":
      return ops.gather(x.table, ids!);
    case "attention":
      return multiHeadAttention(ops, x.q, x.k, x.v, c.heads!);
    case "timestepEmbedding":
      return timestepEmbedding(ops, x.t, c.dim!);
    default:
      throw new Error(`unknown op ${c.op} in the fixture`);
  }
}

/** One model case of forward.json (test/fixtures/model/make_forward.py): config, inputs, weights, and PyTorch's output and gradients. */
export interface ForwardCase {
  label: string;
  config: unknown;
  vocab: number;
  inputs: Record<string, EncodedTensor>;
  weights: Record<string, EncodedTensor>;
  r: EncodedTensor;
  out: EncodedTensor;
  grads: Record<string, EncodedTensor>;
  grad_x: EncodedTensor;
}

/** The model cases recorded from PyTorch in forward.json. */
export function readForwardCases(): ForwardCase[] {
  return (readFixture("forward.json") as { cases: ForwardCase[] }).cases;
}
