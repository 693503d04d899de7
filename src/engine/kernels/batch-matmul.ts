/**
 * BatchMatMul for wasm that keeps every product on XNNPACK's threaded matrix multiply.
 *
 * tfjs-backend-wasm 4.22 sends a product to XNNPACK (`xnn_create_fully_connected_nc_f32`, run on
 * the thread pool) only when both operands have batch 1 and neither is transposed; everything
 * else — attention's q·kᵀ and weights·v over a batch of images and heads, and every matmul
 * gradient, which asks for transposed operands — runs through `slow_batch_matmul`, a scalar,
 * single-threaded triple loop on the main thread (≈ 1–2 GFLOP/s here).
 *
 * This kernel turns a batched / transposed product into one batch-1, untransposed product per
 * batch item for the stock kernel's fast path: it copies item n of a (transposed to [M, K] when
 * transposeA) and of b (to [K, N] when transposeB) into fresh tensors with a JS loop, runs the
 * stock kernel on them, and copies the [M, N] result into the output. The copies are O(size of
 * the operands); the product is O(M·K·N). Broadcasting over the batch follows tfjs (a batch of 1
 * is reused for every item). Products the stock kernel already runs fast go to it unchanged.
 * XNNPACK packs the right operand as "weights" for every new tensor, which costs about one more
 * copy of it: tiny products (M or N of a few rows) stay on the stock kernel, where that overhead
 * would dominate.
 */
import * as tf from "@tensorflow/tfjs";
import { float32View, newFloat32 } from "./host-io.js";

/** Below this many multiply-adds per item, or this few rows/columns, the stock kernel's loop is as fast. */
const MIN_ITEM_MACS = 32 * 32 * 32;
const MIN_ROWS = 4;

interface Plan {
  batch: number;
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

function plan(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): Plan {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) throw new Error(`BatchMatMul needs rank ≥ 2 operands, got [${a.shape.join(",")}] and [${b.shape.join(",")}]`);
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kb) throw new Error(`BatchMatMul: inner sizes differ (${k} vs ${kb}) for [${a.shape.join(",")}] and [${b.shape.join(",")}] (transposeA ${transposeA}, transposeB ${transposeB})`);
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((x, y) => x * y, 1);
  const batchB = outerB.reduce((x, y) => x * y, 1);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new Error(`BatchMatMul: batch sizes ${batchA} and ${batchB} do not broadcast ([${a.shape.join(",")}] and [${b.shape.join(",")}])`);
  }
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  return { batch: Math.max(batchA, batchB), batchA, batchB, m, k, n, outShape: [...outer, m, n] };
}

/**
 * Copy matrix `item` of `src` (stored rows × cols per item) into `dst` as rows × cols, or as its
 * transpose (cols × rows) when `transpose`.
 */
function copyItem(src: Float32Array, item: number, rows: number, cols: number, transpose: boolean, dst: Float32Array): void {
  const base = item * rows * cols;
  if (!transpose) {
    dst.set(src.subarray(base, base + rows * cols));
    return;
  }
  // dst[c, r] = src[r, c], in tiles so both sides stay in cache
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const from = base + r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[from + c]!;
      }
    }
  }
}

/** True when the stock wasm kernel already runs this product on XNNPACK, or it is too small to gain. */
function stockIsFine(p: Plan, transposeA: boolean, transposeB: boolean): boolean {
  if (p.batch === 1 && !transposeA && !transposeB) return true;
  return p.m < MIN_ROWS || p.n < MIN_ROWS || p.m * p.k * p.n < MIN_ITEM_MACS;
}

interface DisposingBackend {
  disposeData(dataId: object, force?: boolean): boolean;
}

/** The kernel function, given the stock wasm BatchMatMul it replaces (the fast path it feeds). */
export function batchMatMulKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    if (a === undefined || b === undefined) throw new Error("BatchMatMul needs inputs a and b");
    if (a.dtype !== "float32" || b.dtype !== "float32") return stock(args);
    const transposeA = attrs?.["transposeA"] === true;
    const transposeB = attrs?.["transposeB"] === true;
    const p = plan(a, b, transposeA, transposeB);
    if (stockIsFine(p, transposeA, transposeB)) return stock(args);
    const { m, k, n } = p;
    const out = newFloat32(backend, "wasm", [p.batch, m, n]).info;
    const disposer = backend as unknown as DisposingBackend;
    // XNNPACK packs b once per tensor id and caches the packed copy until that tensor is freed:
    // a new right operand must be a new tensor (one b shared by all items is packed once).
    let aItem: tf.TensorInfo | null = null;
    let bItem: tf.TensorInfo | null = null;
    const free = (t: tf.TensorInfo | null): null => {
      if (t !== null) disposer.disposeData(t.dataId);
      return null;
    };
    try {
      for (let i = 0; i < p.batch; i++) {
        if (aItem === null || p.batchA > 1) {
          aItem ??= newFloat32(backend, "wasm", [1, m, k]).info;
          // views only after the last allocation: the wasm heap may have grown and moved
          copyItem(float32View(backend, "wasm", a), p.batchA === 1 ? 0 : i, transposeA ? k : m, transposeA ? m : k, transposeA, float32View(backend, "wasm", aItem));
        }
        if (bItem === null || p.batchB > 1) {
          bItem = free(bItem);
          bItem = newFloat32(backend, "wasm", [1, k, n]).info;
          copyItem(float32View(backend, "wasm", b), p.batchB === 1 ? 0 : i, transposeB ? n : k, transposeB ? k : n, transposeB, float32View(backend, "wasm", bItem));
        }
        const product = stock({ inputs: { a: aItem, b: bItem }, backend, attrs: { transposeA: false, transposeB: false } });
        if (Array.isArray(product)) throw new Error("the stock BatchMatMul returned several outputs");
        float32View(backend, "wasm", out).set(float32View(backend, "wasm", product), i * m * n);
        disposer.disposeData(product.dataId);
      }
    } catch (err) {
      disposer.disposeData(out.dataId);
      throw err;
    } finally {
      free(aItem);
      free(bItem);
    }
    out.shape = p.outShape;
    return out;
  };
}
