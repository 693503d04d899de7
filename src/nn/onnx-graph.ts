/**
 * A small ONNX graph builder: named values, nodes, initializers, graph inputs/outputs, and
 * serialisation to ONNX protobuf bytes (IR version 8, default-domain opset 17) through the
 * typed onnx-buf messages.
 *
 * It knows nothing about the network or about layouts; `onnx-ops.ts` drives it.
 */
import * as os from "node:os";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "onnx-buf";
import { RuntimeFailure } from "../errors.js";

export const ONNX_IR_VERSION = 8;
export const ONNX_OPSET = 17;

export type OnnxDType = "float32" | "int32" | "int64";

/** One dimension of a graph input/output: a fixed size, or the symbolic batch ("batch"). */
export type OnnxDimSpec = number | "batch" | null;

/** A node attribute, tagged because a JS number cannot say whether it is an int or a float. */
export type OnnxAttr =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "ints"; value: number[] }
  | { kind: "floats"; value: number[] }
  | { kind: "string"; value: string };

export const attr = {
  int: (value: number): OnnxAttr => ({ kind: "int", value }),
  float: (value: number): OnnxAttr => ({ kind: "float", value }),
  ints: (value: number[]): OnnxAttr => ({ kind: "ints", value }),
  floats: (value: number[]): OnnxAttr => ({ kind: "floats", value }),
  string: (value: string): OnnxAttr => ({ kind: "string", value }),
};

const DTYPE_CODE: Record<OnnxDType, TensorProto_DataType> = {
  float32: TensorProto_DataType.FLOAT,
  int32: TensorProto_DataType.INT32,
  int64: TensorProto_DataType.INT64,
};

type TensorData = Float32Array | Int32Array | BigInt64Array;

if (os.endianness() !== "LE") {
  // ONNX raw_data is little-endian; we copy typed-array bytes as they are in memory.
  throw new RuntimeFailure("ONNX export needs a little-endian machine");
}

export class OnnxGraph {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  /** A fresh value name with the given stem (deterministic: a running counter). */
  freshName(stem: string): string {
    let name = `${stem}_${this.counter++}`;
    while (this.names.has(name)) name = `${stem}_${this.counter++}`;
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new RuntimeFailure(`ONNX graph: the name "${name}" is used twice`);
    this.names.add(name);
    return name;
  }

  hasName(name: string): boolean {
    return this.names.has(name);
  }

  addInput(name: string, dtype: OnnxDType, dims: OnnxDimSpec[]): string {
    this.inputs.push(valueInfo(this.claim(name), dtype, dims));
    return name;
  }

  /** Marks an existing value as a graph output (an Identity gives it the requested name). */
  addOutput(name: string, source: string, dtype: OnnxDType, dims: OnnxDimSpec[]): void {
    this.claim(name);
    this.nodes.push(makeNode("Identity", [source], [name], `Identity_${name}`, {}));
    this.outputs.push(valueInfo(name, dtype, dims));
  }

  /** Adds an initializer (the data is copied as little-endian raw bytes). */
  addInitializer(name: string, dtype: OnnxDType, dims: number[], data: TensorData): string {
    return this.pushInitializer(this.claim(name), dtype, dims, data);
  }

  private pushInitializer(name: string, dtype: OnnxDType, dims: number[], data: TensorData): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new RuntimeFailure(`ONNX initializer "${name}": ${data.length} values for shape [${dims.join(", ")}]`);
    const raw = new Uint8Array(data.byteLength);
    raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.initializers.push(
      create(TensorProtoSchema, {
        name,
        dataType: DTYPE_CODE[dtype],
        dims: dims.map((d) => BigInt(d)),
        rawData: raw,
      }),
    );
    return name;
  }

  /** A shared int64 constant (shapes, axes); equal values reuse one initializer. */
  int64Const(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims.join("x")}:${values.join(",")}`;
    const hit = this.constCache.get(key);
    if (hit !== undefined) return hit;
    const name = this.pushInitializer(this.freshName("const_i64"), "int64", dims, BigInt64Array.from(values, (v) => BigInt(v)));
    this.constCache.set(key, name);
    return name;
  }

  /** A shared float32 constant; equal values reuse one initializer. */
  floatConst(values: number[] | Float32Array, dims: number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const key = `f32:${dims.join("x")}:${Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64")}`;
    const hit = this.constCache.get(key);
    if (hit !== undefined) return hit;
    const name = this.pushInitializer(this.freshName("const_f32"), "float32", dims, data);
    this.constCache.set(key, name);
    return name;
  }

  /** Appends a node; returns the names of its outputs. An empty input name means "omitted". */
  node(opType: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, outputCount = 1): string[] {
    const outs: string[] = [];
    for (let i = 0; i < outputCount; i++) outs.push(this.freshName(opType.toLowerCase()));
    this.nodes.push(makeNode(opType, inputs, outs, `${opType}_${this.nodes.length}`, attrs));
    return outs;
  }

  /** Same as `node` for the common single-output case. */
  node1(opType: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}): string {
    const [out] = this.node(opType, inputs, attrs, 1);
    return out as string;
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** The opTypes of all nodes, in order (for tests and diagnostics). */
  opTypes(): string[] {
    return this.nodes.map((n) => n.opType);
  }

  toModel(graphName: string, producerVersion: string, metadata: Record<string, string> = {}): ModelProto {
    const graph = create(GraphProtoSchema, {
      name: graphName,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    });
    return create(ModelProtoSchema, {
      irVersion: BigInt(ONNX_IR_VERSION),
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(ONNX_OPSET) })],
      producerName: "diffx",
      producerVersion,
      graph,
      metadataProps: Object.entries(metadata).map(([key, value]) => create(StringStringEntryProtoSchema, { key, value })),
    });
  }

  toBytes(graphName: string, producerVersion: string, metadata: Record<string, string> = {}): Uint8Array {
    return toBinary(ModelProtoSchema, this.toModel(graphName, producerVersion, metadata));
  }
}

function makeNode(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, OnnxAttr>): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    name,
    input: inputs,
    output: outputs,
    attribute: Object.entries(attrs).map(([k, a]) => makeAttribute(k, a)),
  });
}

function makeAttribute(name: string, a: OnnxAttr): AttributeProto {
  switch (a.kind) {
    case "int":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(a.value) });
    case "float":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: a.value });
    case "ints":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: a.value.map((v) => BigInt(v)) });
    case "floats":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOATS, floats: a.value });
    case "string":
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(a.value) });
  }
}

function valueInfo(name: string, dtype: OnnxDType, dims: OnnxDimSpec[]): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: "tensorType",
        value: create(TypeProto_TensorSchema, {
          elemType: DTYPE_CODE[dtype],
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) =>
              create(TensorShapeProto_DimensionSchema, {
                value: d === null ? { case: undefined } : typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d },
              }),
            ),
          }),
        }),
      },
    }),
  });
}
