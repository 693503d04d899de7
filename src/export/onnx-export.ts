/**
 * ONNX export by tracing: the network's forward runs once through `OnnxOps`, which records
 * every op as ONNX nodes with the parameters as initializers; the graph is serialised and
 * written atomically. The forward is the same generic function the tfjs interpreter runs, so
 * the exported model is the trained one.
 */
import { writeFileAtomic } from "../engine/atomic.js";
import { sha256 } from "../engine/hash.js";
import { RuntimeFailure } from "../errors.js";
import { ONNX_IR_VERSION, ONNX_OPSET, type OnnxDType } from "../nn/onnx-graph.js";
import { OnnxOps, type ParamTensor } from "../nn/onnx-ops.js";
import type { Ops } from "../nn/ops.js";
import { DIFFX_VERSION } from "../runs/version.js";

/** A graph input: its name, element type and shape ("batch" = the symbolic batch size). */
export interface ExportInput {
  name: string;
  dtype: OnnxDType;
  shape: (number | "batch")[];
}

/** The network's forward, generic over the interpreter; `inputs` holds one value per ExportInput. */
export type TracedForward = <T>(ops: Ops<T>, inputs: Record<string, T>) => T;

export interface ExportOptions {
  /** Graph output name (default "out"). */
  outputName?: string;
  /** Graph name (default "diffx"). */
  graphName?: string;
  /** String key/values stored in the model's metadata_props. */
  metadata?: Record<string, string>;
}

export interface BuiltOnnxModel {
  bytes: Uint8Array;
  /** Output shape as declared in the graph (null = batch-dependent but not the batch itself). */
  outputShape: (number | "batch" | null)[];
  outputName: string;
  nodeCount: number;
  /** Node count per op type, e.g. { Conv: 12, Transpose: 3 }. */
  opCounts: Record<string, number>;
  /** Number of parameters written (initializers from the parameter map, in floats). */
  parameterCount: number;
}

export interface ExportSummary extends Omit<BuiltOnnxModel, "bytes"> {
  file: string;
  bytes: number;
  sha256: string;
  irVersion: number;
  opset: number;
}

/** Traces `forward` through OnnxOps and returns the serialised model. */
export function buildOnnxModel(forward: TracedForward, params: Map<string, ParamTensor>, inputs: ExportInput[], options: ExportOptions = {}): BuiltOnnxModel {
  const outputName = options.outputName ?? "out";
  const names = new Set<string>();
  for (const inp of inputs) {
    if (names.has(inp.name) || inp.name === outputName) throw new RuntimeFailure(`ONNX export: the name "${inp.name}" is used twice among the inputs and the output`);
    names.add(inp.name);
  }
  let parameterCount = 0;
  const used = new Set<string>();
  const ops = new OnnxOps((name) => {
    const p = params.get(name);
    if (p && !used.has(name)) {
      used.add(name);
      parameterCount += p.data.length;
    }
    return p;
  });
  const feeds: Record<string, ReturnType<OnnxOps["input"]>> = {};
  for (const inp of inputs) feeds[inp.name] = ops.input(inp.name, inp.dtype, inp.shape);
  const result = forward(ops, feeds);
  ops.output(result, outputName);
  const outputShape = result.dims.map((d) => (!d.batch ? d.coef : d.coef === 1 ? "batch" : null));
  const opCounts: Record<string, number> = {};
  for (const op of ops.graph.opTypes()) opCounts[op] = (opCounts[op] ?? 0) + 1;
  const metadata = { diffx_version: DIFFX_VERSION, ...options.metadata };
  return {
    bytes: ops.graph.toBytes(options.graphName ?? "diffx", DIFFX_VERSION, metadata),
    outputShape,
    outputName,
    nodeCount: ops.graph.nodeCount,
    opCounts,
    parameterCount,
  };
}

/** Traces `forward`, writes the model to `file` atomically, and says what was written. */
export function exportOnnx(forward: TracedForward, params: Map<string, ParamTensor>, inputs: ExportInput[], file: string, options: ExportOptions = {}): ExportSummary {
  const built = buildOnnxModel(forward, params, inputs, options);
  writeFileAtomic(file, built.bytes);
  const { bytes, ...rest } = built;
  return { ...rest, file, bytes: bytes.byteLength, sha256: sha256(bytes), irVersion: ONNX_IR_VERSION, opset: ONNX_OPSET };
}
