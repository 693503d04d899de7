/**
 * Registers diffx's own tfjs kernels for a backend, remembering the stock kernel each replaces
 * so it can be put back (tests compare ours against the stock ones).
 *
 * - wasm: Conv2DBackpropFilter (missing in tfjs-backend-wasm 4.22) and Conv2DBackpropInput
 *   (the stock one is a scalar single-threaded loop), both composed from the backend's XNNPACK
 *   Conv2D; BatchMatMul, which feeds batched and transposed products (attention, every matmul
 *   gradient) to the stock kernel's threaded XNNPACK path one batch item at a time instead of
 *   its scalar single-threaded loop.
 * - cpu: ResizeNearestNeighborGrad (the stock one is wrong for batch > 1) and
 *   Conv2DBackpropFilter (the same composition; about 40× faster than the stock loop here).
 */
import * as tf from "@tensorflow/tfjs";
import { batchMatMulKernel } from "./batch-matmul.js";
import { conv2dBackpropFilterKernel } from "./conv2d-backprop-filter.js";
import { conv2dBackpropInputKernel } from "./conv2d-backprop-input.js";
import { resizeNearestNeighborGradKernel } from "./resize-nearest-grad.js";

function oursFor(backendName: string): tf.KernelConfig[] {
  switch (backendName) {
    case "wasm":
      return [
        { kernelName: tf.Conv2DBackpropFilter, backendName, kernelFunc: conv2dBackpropFilterKernel(backendName) },
        { kernelName: tf.Conv2DBackpropInput, backendName, kernelFunc: conv2dBackpropInputKernel(backendName) },
        { kernelName: tf.BatchMatMul, backendName, kernelFunc: batchMatMulKernel(stockKernel(backendName, tf.BatchMatMul)) },
      ];
    case "cpu":
      return [
        { kernelName: tf.ResizeNearestNeighborGrad, backendName, kernelFunc: resizeNearestNeighborGradKernel },
        { kernelName: tf.Conv2DBackpropFilter, backendName, kernelFunc: conv2dBackpropFilterKernel(backendName) },
      ];
    default:
      return [];
  }
}

/** Stock kernels we replaced, by "backend/kernel"; `null` when there was none. */
const replaced = new Map<string, tf.KernelConfig | null>();

function key(backendName: string, kernelName: string): string {
  return `${backendName}/${kernelName}`;
}

/** Calls the stock kernel that ours replaced (looked up when called: it is captured at registration). */
function stockKernel(backendName: string, kernelName: string): tf.KernelFunc {
  return (args) => {
    const stock = replaced.get(key(backendName, kernelName));
    if (stock === undefined || stock === null) throw new Error(`no stock ${kernelName} kernel for backend '${backendName}' to delegate to`);
    return stock.kernelFunc(args);
  };
}

/** Register our kernels for `backendName` (idempotent); returns the kernel names now ours. */
export function registerEngineKernels(backendName: string): string[] {
  const names: string[] = [];
  for (const config of oursFor(backendName)) {
    const k = key(backendName, config.kernelName);
    if (!replaced.has(k)) {
      const stock = tf.getKernel(config.kernelName, backendName);
      replaced.set(k, stock ?? null);
      if (stock !== undefined) tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel(config);
    }
    names.push(config.kernelName);
  }
  return names;
}

/** Put the stock kernels back for `backendName` (undo `registerEngineKernels`). */
export function restoreStockKernels(backendName: string): void {
  for (const config of oursFor(backendName)) {
    const k = key(backendName, config.kernelName);
    if (!replaced.has(k)) continue;
    const stock = replaced.get(k) ?? null;
    tf.unregisterKernel(config.kernelName, backendName);
    if (stock !== null) tf.registerKernel(stock);
    replaced.delete(k);
  }
}
