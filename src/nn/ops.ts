/**
 * The op interface the model is written against ("one forward, two interpreters", DESIGN.md).
 *
 * The network code calls only these methods. `src/nn/tfjs-ops.ts` runs them on tfjs tensors
 * (training, sampling); `src/nn/onnx-ops.ts` records them as ONNX nodes with the parameters as
 * initializers (export). So the exported model cannot drift from the trained one.
 *
 * Conventions (both interpreters must follow them exactly):
 * - Images are NHWC (batch, height, width, channels), float32.
 * - Conv weights are HWIO: [kh, kw, inChannels, outChannels] (the tfjs layout); the ONNX
 *   interpreter permutes them to OIHW when it writes initializers.
 * - Linear weights are [in, out]: y = x · W + b.
 * - `shape(x)` is the static shape; dimension 0 (the batch) may be -1 in a symbolic
 *   interpreter, so network code never computes with it.
 * - In `reshape`, a 0 keeps the input's size at that index and one -1 is inferred (ONNX
 *   Reshape semantics); network code writes the batch dimension as 0.
 * - Token ids are int32 tensors [batch, tokens].
 */
export type Padding = [top: number, bottom: number, left: number, right: number];

export interface Ops<T> {
  /** The named parameter from the flat parameter map (e.g. "down.1.res.0.conv1.weight"). */
  param(name: string): T;
  /** A constant float32 tensor. */
  constant(data: Float32Array, shape: number[]): T;
  /** Static shape (batch may be -1, see above). */
  shape(x: T): number[];

  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  /** x · c for a JS number c. */
  scale(x: T, c: number): T;

  /** Batched matrix product over the last two axes, optionally transposing either operand. */
  matMul(a: T, b: T, transposeA?: boolean, transposeB?: boolean): T;
  /** y = x · W + b over the last axis; W is [in, out]. */
  linear(x: T, weight: T, bias: T | null): T;
  /** 2-D convolution, NHWC input, HWIO weight, explicit padding. */
  conv2d(x: T, weight: T, bias: T | null, stride: number, pad: Padding): T;

  silu(x: T): T;
  sin(x: T): T;
  cos(x: T): T;
  /** Softmax over the last axis. */
  softmax(x: T): T;

  /** GroupNorm over NHWC input: statistics per (sample, group) over H, W and the group's channels. */
  groupNorm(x: T, groups: number, gamma: T, beta: T, eps: number): T;
  /** LayerNorm over the last axis. */
  layerNorm(x: T, gamma: T, beta: T, eps: number): T;

  concat(xs: T[], axis: number): T;
  reshape(x: T, shape: number[]): T;
  transpose(x: T, perm: number[]): T;
  /** Nearest-neighbour 2× upsampling of NHWC input. */
  upsample2x(x: T): T;
  /** Mean over the given axes (kept as size-1 dims when keepDims). */
  mean(x: T, axes: number[], keepDims: boolean): T;
  /** Rows of `table` [vocab, dim] picked by int32 `ids` [batch, tokens] → [batch, tokens, dim]. */
  gather(table: T, ids: T): T;
}
