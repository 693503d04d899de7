/**
 * Runs kernels that are already registered for a backend from inside another kernel, and frees
 * every intermediate result when done. This is how our composite kernels (e.g. the wasm
 * Conv2DBackpropFilter built from the backend's own Conv2D) are written: tfjs kernels call each
 * other through `kernelFunc` directly, not through `tf.*` ops, so nothing lands on the gradient
 * tape and nothing is tracked by the engine.
 */
import * as tf from "@tensorflow/tfjs";

/** The part of a tfjs backend a composite kernel uses. */
interface DisposingBackend {
  disposeData(dataId: object, force?: boolean): boolean;
}

function isDisposingBackend(value: unknown): value is DisposingBackend {
  return typeof value === "object" && value !== null && typeof (value as { disposeData?: unknown }).disposeData === "function";
}

export class KernelScope {
  private readonly temps: tf.TensorInfo[] = [];
  private readonly backend: DisposingBackend;

  constructor(
    backend: unknown,
    private readonly backendName: string,
  ) {
    if (!isDisposingBackend(backend)) throw new Error(`KernelScope: backend '${backendName}' has no disposeData()`);
    this.backend = backend;
  }

  /** Run the registered kernel `name`; its output is freed by `dispose()` unless `keep()` is called on it. */
  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const config = tf.getKernel(name, this.backendName);
    if (config === undefined) throw new Error(`kernel '${name}' is not registered for backend '${this.backendName}'`);
    const out = config.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`kernel '${name}' returned several outputs; KernelScope expects one`);
    this.temps.push(out);
    return out;
  }

  /** Free `t` (a tensor made outside `run`, e.g. with host-io) with the other intermediates. */
  track(t: tf.TensorInfo): tf.TensorInfo {
    this.temps.push(t);
    return t;
  }

  /** Exclude `t` (a result of `run`) from disposal: it is the composite kernel's output. */
  keep(t: tf.TensorInfo): tf.TensorInfo {
    const i = this.temps.indexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  /** Free every intermediate result still held. */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Run `body` with a fresh scope; the returned tensor is kept, everything else freed (also on error). */
export function withKernelScope(backend: unknown, backendName: string, body: (scope: KernelScope) => tf.TensorInfo): tf.TensorInfo {
  const scope = new KernelScope(backend, backendName);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}
