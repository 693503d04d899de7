/**
 * Tensor backend selection (DESIGN.md "Backends and devices").
 *
 * `auto` takes the first backend that loads: `tensorflow` (@tensorflow/tfjs-node-gpu, then
 * @tensorflow/tfjs-node: native, optional dependencies) → `wasm` (@tensorflow/tfjs-backend-wasm,
 * SIMD, threads; its .wasm files come from node_modules) → `cpu` (pure JS, ~200× slower).
 * A forced backend that cannot load is an error. The report says what was chosen, with which
 * package, version and thread count, and why each backend before it was skipped; it goes into
 * the run manifest.
 *
 * Our own kernels are registered for the chosen backend (see kernels/register.ts): on wasm the
 * missing Conv2DBackpropFilter and a fast Conv2DBackpropInput, on cpu a correct
 * ResizeNearestNeighborGrad and a fast Conv2DBackpropFilter.
 */
import * as tf from "@tensorflow/tfjs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as fs from "node:fs";
import * as path from "node:path";
import { RuntimeFailure, UsageError } from "../errors.js";
import { registerEngineKernels } from "./kernels/register.js";
import { autoThreads, compileWasmFile, locateWasmFiles, PINNED_VERSION, startWasm, wasmFeatures, wasmStarted, type WasmFeatures } from "./kernels/wasm-loader.js";

export { autoThreads, wasmFeatures, type WasmFeatures };

export type BackendName = "tensorflow" | "wasm" | "cpu";
export type BackendRequest = "auto" | BackendName;

export interface BackendReport {
  name: BackendName;
  /** npm package providing the backend, e.g. "@tensorflow/tfjs-backend-wasm". */
  package: string;
  version: string;
  /** Threads the backend computes with (wasm: XNNPACK pool size; cpu: 1; tensorflow: logical CPUs). */
  threads: number;
  /** wasm only: whether the SIMD build runs. */
  simd?: boolean;
  /** Backends tried before this one (auto) and why each could not be used. */
  skipped: { name: string; reason: string }[];
  /** wasm: why it runs on 1 thread when more were asked for (also among `warnings`). */
  threadsNote?: string;
  /** Things the user should know (cpu is slow, threads fell back to 1, …). */
  warnings: string[];
  /** Kernels diffx registered for this backend (its own implementations replacing or adding to tfjs's). */
  kernels?: string[];
}

export interface BackendProbe {
  name: BackendName;
  usable: boolean;
  reason?: string;
  details?: Record<string, unknown>;
}

const BACKENDS: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];
const TENSORFLOW_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;
const CPU_WARNING = "backend 'cpu' is pure JavaScript, about 200× slower than wasm: tfjs network work (sampling with --engine tfjs, training with engine.gradients: tfjs) will be very slow";

const requireHere = createRequire(import.meta.url);

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split("\n").find((l) => l.trim() !== "") ?? text).trim();
}

function shortName(pkg: string): string {
  return pkg.replace("@tensorflow/", "");
}

function packageVersion(pkg: string): string {
  try {
    const json: unknown = JSON.parse(fs.readFileSync(requireHere.resolve(`${pkg}/package.json`), "utf8"));
    const version = (json as { version?: unknown }).version;
    return typeof version === "string" ? version : "unknown";
  } catch {
    return "unknown";
  }
}

type TensorflowLoad = { ok: true; package: string; version: string } | { ok: false; reason: string };

/**
 * Import tfjs-node-gpu, else tfjs-node. Importing registers the "tensorflow" backend with tfjs; it
 * does not select it. The reason names each package tried.
 */
async function loadTensorflow(): Promise<TensorflowLoad> {
  const reasons: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      requireHere.resolve(pkg);
    } catch {
      reasons.push(`${shortName(pkg)}: not installed`);
      continue;
    }
    try {
      const moduleName: string = pkg;
      await import(moduleName);
    } catch (err) {
      const msg = firstLine(err);
      const native = /libtensorflow|tfjs_binding|ERR_DLOPEN_FAILED|cannot open shared object|\.node\b/i.test(msg);
      reasons.push(`${shortName(pkg)}: ${native ? `libtensorflow not found (${msg})` : msg}`);
      continue;
    }
    if (!tf.findBackendFactory("tensorflow")) {
      reasons.push(
        `${shortName(pkg)}: loaded, but registered its backend with another copy of @tensorflow/tfjs-core (tfjs here is ${tf.version_core}; install a matching ${pkg})`,
      );
      continue;
    }
    return { ok: true, package: pkg, version: packageVersion(pkg) };
  }
  return { ok: false, reason: reasons.join("; ") };
}

/** Silence tfjs-backend-cpu's one-time "install tfjs-node" banner: diffx reports backends itself. */
function quietCpuBanner(): void {
  const backend: unknown = tf.findBackend("cpu");
  if (typeof backend === "object" && backend !== null && "firstUse" in backend) {
    (backend as { firstUse: boolean }).firstUse = false;
  }
}

async function tryTensorflow(): Promise<BackendReport | string> {
  const load = await loadTensorflow();
  if (!load.ok) return load.reason;
  let selected = false;
  try {
    selected = await tf.setBackend("tensorflow");
  } catch (err) {
    return `${shortName(load.package)}: ${firstLine(err)}`;
  }
  if (!selected) return `${shortName(load.package)}: the tensorflow backend failed to initialise`;
  return {
    name: "tensorflow",
    package: load.package,
    version: load.version,
    threads: os.availableParallelism(),
    skipped: [],
    warnings: [],
    kernels: registerEngineKernels("tensorflow"),
  };
}

async function tryWasm(threads: "auto" | number, load: number | undefined): Promise<BackendReport | string> {
  let start;
  try {
    start = await startWasm(threads, load);
  } catch (err) {
    return `tfjs-backend-wasm: ${firstLine(err)}`;
  }
  return {
    name: "wasm",
    package: "@tensorflow/tfjs-backend-wasm",
    version: locateWasmFiles().version,
    threads: start.threads,
    simd: start.simd,
    skipped: [],
    warnings: start.warnings,
    ...(start.threadsNote === undefined ? {} : { threadsNote: start.threadsNote }),
    kernels: registerEngineKernels("wasm"),
  };
}

async function tryCpu(): Promise<BackendReport | string> {
  let selected = false;
  try {
    selected = await tf.setBackend("cpu");
  } catch (err) {
    return `tfjs-backend-cpu: ${firstLine(err)}`;
  }
  if (!selected) return "tfjs-backend-cpu: failed to initialise";
  quietCpuBanner();
  return {
    name: "cpu",
    package: "@tensorflow/tfjs-backend-cpu",
    version: tf.version["tfjs-backend-cpu"] ?? "unknown",
    threads: 1,
    skipped: [],
    warnings: [CPU_WARNING],
    kernels: registerEngineKernels("cpu"),
  };
}

function tryBackend(name: BackendName, threads: "auto" | number, load: number | undefined): Promise<BackendReport | string> {
  switch (name) {
    case "tensorflow":
      return tryTensorflow();
    case "wasm":
      return tryWasm(threads, load);
    case "cpu":
      return tryCpu();
  }
}

/**
 * Select and start the tfjs backend. `requested` comes from `--backend` / `engine.backend`;
 * `opts.threads` from `engine.threads` (wasm only; "auto" = all logical CPUs up to 8, or 1 when
 * the machine is already busy; a number is used as given, up to 8). The thread count is fixed
 * by the first wasm start in a process. Worker processes that split a batch between them should
 * ask for 1 thread each. `opts.load` is the 1-minute load average "auto" weighs (default: this
 * machine's; tests pass one).
 * Throws UsageError for an unknown name or bad thread count, RuntimeFailure when a forced
 * backend (or, for auto, every backend) cannot be used.
 */
export async function initBackend(requested: BackendRequest, opts: { threads: "auto" | number; load?: number }): Promise<BackendReport> {
  const wanted: string = requested;
  if (wanted !== "auto" && !(BACKENDS as readonly string[]).includes(wanted)) {
    throw new UsageError(`unknown backend '${wanted}' (engine.backend / --backend): use one of auto, ${BACKENDS.join(", ")}`);
  }
  if (opts.threads !== "auto" && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
    throw new UsageError(`engine.threads must be "auto" or a positive integer, got ${String(opts.threads)}`);
  }
  if (requested !== "auto") {
    const result = await tryBackend(requested, opts.threads, opts.load);
    if (typeof result === "string") {
      throw new RuntimeFailure(`backend '${requested}' (engine.backend / --backend) cannot be used: ${result}`);
    }
    return result;
  }
  const skipped: { name: string; reason: string }[] = [];
  for (const name of BACKENDS) {
    const result = await tryBackend(name, opts.threads, opts.load);
    if (typeof result === "string") {
      skipped.push({ name, reason: result });
      continue;
    }
    return { ...result, skipped };
  }
  throw new RuntimeFailure(`no tfjs backend could be started: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}`);
}

async function probeTensorflow(): Promise<BackendProbe> {
  const load = await loadTensorflow();
  if (!load.ok) return { name: "tensorflow", usable: false, reason: load.reason };
  return { name: "tensorflow", usable: true, details: { package: load.package, version: load.version } };
}

async function probeWasm(): Promise<BackendProbe> {
  const features = wasmFeatures();
  let files;
  try {
    files = locateWasmFiles();
  } catch (err) {
    return { name: "wasm", usable: false, reason: firstLine(err), details: { ...features } };
  }
  const started = wasmStarted();
  const details: Record<string, unknown> = {
    package: "@tensorflow/tfjs-backend-wasm",
    version: files.version,
    simd: features.simd,
    threadsSupported: features.threads,
    multithreadPatch: files.version === PINNED_VERSION ? "available" : `disabled (written for ${PINNED_VERSION})`,
    binaries: files.distDir,
  };
  if (started !== null) details["threadsInUse"] = started.threads;
  // Compile (not instantiate) the binary tfjs would load: proves the file is intact and runnable here.
  const binary = features.simd ? "tfjs-backend-wasm-simd.wasm" : "tfjs-backend-wasm.wasm";
  try {
    await compileWasmFile(path.join(files.distDir, binary));
  } catch (err) {
    return { name: "wasm", usable: false, reason: `${binary} does not compile here: ${firstLine(err)}`, details };
  }
  return { name: "wasm", usable: true, details };
}

/**
 * Which backends could be used here, for `diffx doctor`. Does not select or start any backend
 * (tensorflow packages are imported, which only registers their backend), so a later
 * `initBackend` behaves as if this had not run.
 */
export async function probeBackends(): Promise<BackendProbe[]> {
  return [
    await probeTensorflow(),
    await probeWasm(),
    { name: "cpu", usable: true, details: { package: "@tensorflow/tfjs-backend-cpu", version: tf.version["tfjs-backend-cpu"] ?? "unknown", note: CPU_WARNING } },
  ];
}
