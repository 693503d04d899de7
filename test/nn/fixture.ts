/** Reading the PyTorch fixtures of test/fixtures/model/ and comparing tensors against them. */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";

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
