/**
 * Direct access to float32 tensor storage inside a kernel, for the few data rearrangements that
 * are faster as a plain JS loop than as the backend's generic kernels (the wasm backend's
 * Concat along an inner axis, DepthToSpace and Transpose walk element by element through stride
 * tables).
 *
 * - cpu: storage is a Float32Array the backend keeps by reference (`readSync` returns it,
 *   `makeTensorInfo` stores the array it is given).
 * - wasm: storage lives in the wasm heap; `makeOutput` allocates there and `typedArrayFromHeap`
 *   is a view (no copy). A view is valid only until the heap next grows, so take views after the
 *   last allocation and keep them only for the loop that uses them.
 * These are the backends' own (public-on-the-class, pinned-version) methods; no copy is made.
 */
import type * as tf from "@tensorflow/tfjs";

interface CpuStorage {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): tf.TensorInfo;
}
interface WasmStorage {
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): unknown;
}

function hasMethods(value: unknown, names: string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return names.every((n) => typeof record[n] === "function");
}

function asWasm(backend: unknown): WasmStorage {
  if (!hasMethods(backend, ["makeOutput", "typedArrayFromHeap"])) throw new Error("wasm backend without makeOutput/typedArrayFromHeap");
  return backend as WasmStorage;
}

function asCpu(backend: unknown, backendName: string): CpuStorage {
  if (!hasMethods(backend, ["readSync", "makeTensorInfo"])) throw new Error(`backend '${backendName}' cannot read or make tensors synchronously`);
  return backend as CpuStorage;
}

function float32(values: unknown, t: tf.TensorInfo): Float32Array {
  if (!(values instanceof Float32Array)) throw new Error(`expected float32 data, got ${t.dtype}`);
  return values;
}

/** The storage of `t` (never modify it; on wasm valid until the next allocation). */
export function float32View(backend: unknown, backendName: string, t: tf.TensorInfo): Float32Array {
  if (backendName === "wasm") return float32(asWasm(backend).typedArrayFromHeap(t), t);
  return float32(asCpu(backend, backendName).readSync(t.dataId), t);
}

/** A new float32 tensor and its (uninitialised on wasm) storage, to be filled by the caller. */
export function newFloat32(backend: unknown, backendName: string, shape: number[]): { info: tf.TensorInfo; values: Float32Array } {
  if (backendName === "wasm") {
    const wasm = asWasm(backend);
    const info = wasm.makeOutput(shape, "float32");
    return { info, values: float32(wasm.typedArrayFromHeap(info), info) };
  }
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  return { info: asCpu(backend, backendName).makeTensorInfo(shape, "float32", values), values };
}
