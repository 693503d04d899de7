/**
 * Model parameters: their declarations (ParamSpec), seeded initialisation and counting.
 *
 * Parameters live in one flat, named map ("down.1.res.0.conv1.weight"), which is also the
 * checkpoint format and the ONNX initializer names (DESIGN.md). Each parameter draws its
 * initial values from its own stream `new Rng(seed, "init", name)`, so adding or removing a
 * parameter never changes the initial values of the others.
 */
import { Rng } from "../engine/rng.js";
import { RuntimeFailure } from "../errors.js";

/**
 * - zeros / ones: constant.
 * - normal: N(0, std²) (std defaults to 0.02, the GPT-2 / CLIP embedding init).
 * - fan_in: U(−1/√fan_in, 1/√fan_in) with fan_in = size / last dim (HWIO conv: kh·kw·in;
 *   linear [in, out]: in) — PyTorch's default for Conv2d and Linear weights.
 */
export type ParamInit = "zeros" | "ones" | "normal" | "fan_in";

export interface ParamSpec {
  name: string;
  shape: number[];
  init: ParamInit;
  /** Standard deviation for `normal` (default 0.02). */
  std?: number;
}

export interface HostParam {
  shape: number[];
  data: Float32Array;
}

/** Parameter values on the host, by name (the checkpoint format). */
export type ParamMap = Map<string, HostParam>;

export const DEFAULT_NORMAL_STD = 0.02;

export function paramSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Initial values for every spec, each from `new Rng(seed, "init", name)`. */
export function initParams(specs: readonly ParamSpec[], seed: number): ParamMap {
  const out: ParamMap = new Map();
  for (const spec of specs) {
    if (out.has(spec.name)) throw new RuntimeFailure(`model parameter "${spec.name}" is declared twice`);
    out.set(spec.name, { shape: spec.shape.slice(), data: initValues(spec, seed) });
  }
  return out;
}

function initValues(spec: ParamSpec, seed: number): Float32Array {
  const n = paramSize(spec.shape);
  const data = new Float32Array(n);
  switch (spec.init) {
    case "zeros":
      return data;
    case "ones":
      return data.fill(1);
    case "normal": {
      const rng = new Rng(seed, "init", spec.name);
      const std = spec.std ?? DEFAULT_NORMAL_STD;
      for (let i = 0; i < n; i++) data[i] = std * rng.normal();
      return data;
    }
    case "fan_in": {
      const rng = new Rng(seed, "init", spec.name);
      const fanIn = n / spec.shape[spec.shape.length - 1];
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) data[i] = rng.range(-bound, bound);
      return data;
    }
  }
}

/** Total number of scalar parameters. */
export function countParams(specs: readonly ParamSpec[] | ParamMap): number {
  let total = 0;
  for (const p of Array.isArray(specs) ? specs : specs.values()) total += paramSize(p.shape);
  return total;
}

/**
 * Check that `params` holds exactly the declared parameters with the declared shapes
 * (e.g. a checkpoint against the config it is loaded for). `source` names the file.
 */
export function checkParams(specs: readonly ParamSpec[], params: ParamMap, source: string): void {
  for (const spec of specs) {
    const p = params.get(spec.name);
    if (!p) throw new RuntimeFailure(`${source}: parameter "${spec.name}" is missing`);
    if (p.shape.length !== spec.shape.length || p.shape.some((d, i) => d !== spec.shape[i])) {
      throw new RuntimeFailure(`${source}: parameter "${spec.name}" has shape [${p.shape.join(", ")}], the model expects [${spec.shape.join(", ")}]`);
    }
    if (p.data.length !== paramSize(spec.shape)) throw new RuntimeFailure(`${source}: parameter "${spec.name}" has ${p.data.length} values, expected ${paramSize(spec.shape)}`);
  }
  if (params.size !== specs.length) {
    const declared = new Set(specs.map((s) => s.name));
    const extra = [...params.keys()].filter((k) => !declared.has(k));
    throw new RuntimeFailure(`${source}: unexpected parameter "${extra[0]}" (the model config does not declare it)`);
  }
}

// Spec builders for the layer helpers of src/nn/layers.ts (same parameter names).

/** `linear(ops, x, name)`: `name.weight` [in, out] (fan_in), `name.bias` [out]. */
export function linearSpecs(name: string, inDim: number, outDim: number, opts: { zeroInit?: boolean } = {}): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [inDim, outDim], init: opts.zeroInit ? "zeros" : "fan_in" },
    { name: `${name}.bias`, shape: [outDim], init: "zeros" },
  ];
}

/** `conv(ops, x, name)`: `name.weight` HWIO [k, k, in, out] (fan_in), `name.bias` [out]. */
export function convSpecs(name: string, kernel: number, inCh: number, outCh: number, opts: { zeroInit?: boolean } = {}): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [kernel, kernel, inCh, outCh], init: opts.zeroInit ? "zeros" : "fan_in" },
    { name: `${name}.bias`, shape: [outCh], init: "zeros" },
  ];
}

/** `groupNorm` / `layerNorm`: `name.gamma` [c] (ones), `name.beta` [c] (zeros). */
export function normSpecs(name: string, channels: number): ParamSpec[] {
  return [
    { name: `${name}.gamma`, shape: [channels], init: "ones" },
    { name: `${name}.beta`, shape: [channels], init: "zeros" },
  ];
}

/** Little-endian float32 bytes of every parameter in `order` (the weights.bin layout of shipped models). */
export function paramBytes(params: ParamMap, order: readonly string[], source: string): Uint8Array {
  let total = 0;
  for (const name of order) {
    const p = params.get(name);
    if (!p) throw new RuntimeFailure(`${source}: parameter "${name}" is missing`);
    total += p.data.length;
  }
  const bytes = Buffer.alloc(total * 4);
  let offset = 0;
  for (const name of order) for (const v of (params.get(name) as HostParam).data) offset = bytes.writeFloatLE(v, offset);
  return bytes;
}

/** The parameters `list` (names and shapes, in order) read back from `paramBytes` output; the caller checks the size. */
export function paramsFromBytes(bytes: Buffer, list: readonly { name: string; shape: number[] }[]): ParamMap {
  const params: ParamMap = new Map();
  let offset = 0;
  for (const p of list) {
    const data = new Float32Array(paramSize(p.shape));
    for (let i = 0; i < data.length; i++, offset += 4) data[i] = bytes.readFloatLE(offset);
    params.set(p.name, { shape: p.shape.slice(), data });
  }
  return params;
}
