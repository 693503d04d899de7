/**
 * Loads tfjs-backend-wasm from node_modules (no network), optionally with several threads.
 *
 * tfjs 4.22 runs wasm single-threaded under Node (ENGINE-NOTES): the
 * WASM_HAS_MULTITHREAD_SUPPORT flag is hard-wired to false there, the pthread worker script is
 * handed to worker_threads as a Blob URL (which Node cannot load), the worker is told to load the
 * main script from a Blob as well, and XNNPACK's pool is capped at half the logical CPUs. For
 * N > 1 threads this module, only while `tf.setBackend("wasm")` runs:
 *   1. forces the flag to true;
 *   2. answers `URL.createObjectURL` for the worker Blob with a real file: the package's own
 *      worker script plus a few lines that load the package's threaded main script from disk
 *      (and exit the thread instead of throwing if that fails);
 *   3. reports 2·N logical CPUs through `os.cpus()`, so the pool gets N threads;
 *   4. watches the pthread workers, so a worker that dies, or a start-up that hangs, makes us
 *      fall back to one thread instead of crashing or waiting forever;
 *   5. unref()s the workers once started (XNNPACK's pool threads never end, and Emscripten keeps
 *      a worker ref'd while its thread runs, so Node would otherwise never exit).
 * Every patch is undone when the backend has started. All of this touches tfjs internals, so it
 * runs only on the exact tfjs-backend-wasm version it was written for (PINNED_VERSION); any
 * failure falls back to the stock single-threaded backend, with the reason in `warnings`.
 * `threads: "auto"` uses every CPU unless the machine is already busy (see autoThreads).
 */
import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import * as vm from "node:vm";
import { writeFileAtomic } from "../atomic.js";

export const PINNED_VERSION = "4.22.0";
/** Workers Emscripten pre-starts (PTHREAD_POOL_SIZE of this build); more threads would deadlock at start-up. */
export const MAX_WASM_THREADS = 8;
const START_TIMEOUT_MS = 60_000;
const WASM_PRIORITY = 2;
const BINARIES = ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"] as const;

const requireHere = createRequire(import.meta.url);

type TfWasm = typeof import("@tensorflow/tfjs-backend-wasm");
let tfwasmModule: TfWasm | null = null;

/**
 * The tfjs-backend-wasm module, imported on first use: importing it registers the "wasm" backend
 * with tfjs (priority above cpu), and tfjs would then start it on its own (single-threaded) the
 * first time anything touches a tensor. Until `startWasm` runs, diffx keeps it unregistered.
 */
async function tfwasm(): Promise<TfWasm> {
  tfwasmModule ??= await import("@tensorflow/tfjs-backend-wasm");
  return tfwasmModule;
}

export interface WasmFiles {
  /** Folder holding the .wasm binaries (the package's dist/). */
  distDir: string;
  packageDir: string;
  version: string;
}

/** Find tfjs-backend-wasm and its .wasm binaries in node_modules; throws an Error naming what is missing. */
export function locateWasmFiles(): WasmFiles {
  let entry: string;
  try {
    entry = requireHere.resolve("@tensorflow/tfjs-backend-wasm");
  } catch {
    throw new Error("@tensorflow/tfjs-backend-wasm is not installed");
  }
  const distDir = path.dirname(entry);
  for (const name of BINARIES) {
    if (!fs.existsSync(path.join(distDir, name))) throw new Error(`${name} not found in ${distDir}`);
  }
  const packageDir = path.dirname(distDir);
  const json: unknown = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8"));
  const version = (json as { version?: unknown }).version;
  return { distDir, packageDir, version: typeof version === "string" ? version : "unknown" };
}

export interface WasmFeatures {
  /** WebAssembly SIMD (128-bit) instructions validate. */
  simd: boolean;
  /** WebAssembly threads (shared memory + atomics) validate, and SharedArrayBuffer and worker_threads exist. */
  threads: boolean;
}

// Tiny wasm programs from GoogleChromeLabs/wasm-feature-detect (the same ones tfjs uses).
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 9, 1, 7, 0, 65, 0, 253, 15, 26, 11]);
const THREADS_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11,
]);

/** The WebAssembly global (Node has it; the ES2022 lib without DOM does not declare it). */
const webAssembly = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean; compile(bytes: Uint8Array): Promise<unknown> } })
  .WebAssembly;

/** Compile (not instantiate) a .wasm file: proves it is intact and runnable on this Node. */
export async function compileWasmFile(file: string): Promise<void> {
  await webAssembly.compile(fs.readFileSync(file));
}

function validates(bytes: Uint8Array): boolean {
  try {
    return webAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** What this Node's WebAssembly supports (independent of tfjs). */
export function wasmFeatures(): WasmFeatures {
  let workers = false;
  try {
    workers = typeof requireHere("node:worker_threads").Worker === "function";
  } catch {
    workers = false;
  }
  return {
    simd: validates(SIMD_PROBE),
    threads: validates(THREADS_PROBE) && typeof SharedArrayBuffer === "function" && typeof Atomics === "object" && workers,
  };
}

export interface WasmStart {
  /** Threads XNNPACK actually runs with. */
  threads: number;
  simd: boolean;
  warnings: string[];
  /** Why wasm runs on 1 thread when more were asked for (engine.threads auto on a busy machine, no threaded build, a failed threaded start). */
  threadsNote?: string;
}

let started: WasmStart | null = null;
let pathsSet = false;

/**
 * What "auto" means: every logical CPU (at most MAX_WASM_THREADS), unless the machine is already
 * fully busy (1-minute load average ≥ CPUs). Measured on the 2-core reference machine while
 * other jobs ran (load ≈ 10): a training step of the bench network took 6.8–7.1 s with 2
 * threads against 4.3 s with 1, and used 30 % more CPU — XNNPACK's threads wait for each other
 * at every op, and a thread that loses its core stalls the rest. On an idle machine 2 threads
 * are 1.2–1.7× faster (ENGINE-NOTES). Results are bit-identical either way.
 */
export function autoThreads(cpus: number, load: number): { threads: number; reason?: string } {
  const all = Math.max(1, Math.min(MAX_WASM_THREADS, cpus));
  if (all > 1 && load >= cpus) {
    return {
      threads: 1,
      reason: `the machine is busy (1-minute load ${load.toFixed(1)} on ${cpus} CPUs), where more threads only contend; set engine.threads to force a count`,
    };
  }
  return { threads: all };
}

/**
 * Threads wanted for `threads` ("auto": see autoThreads, with the 1-minute `load`), capped at
 * MAX_WASM_THREADS, and why when "auto" chose fewer.
 */
export function resolveThreads(threads: "auto" | number, load: number = os.loadavg()[0] ?? 0): { threads: number; reason?: string } {
  if (threads === "auto") return autoThreads(os.availableParallelism(), load);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be "auto" or a positive integer, got ${String(threads)}`);
  return { threads: Math.min(MAX_WASM_THREADS, threads) };
}

/**
 * Make tfjs-backend-wasm the active backend. Only the first call picks the thread count (and
 * its note is returned by every later call, so each run that shares the process records it).
 * `load`: the 1-minute load average that "auto" weighs (default: this machine's).
 */
export async function startWasm(threads: "auto" | number, load?: number): Promise<WasmStart> {
  const resolved = resolveThreads(threads, load);
  const wanted = resolved.threads;
  if (started !== null) {
    if ((await tf.setBackend("wasm")) !== true) throw new Error("the wasm backend, started earlier in this process, can no longer be selected");
    const warnings =
      threads === "auto" || wanted === started.threads
        ? []
        : [`wasm already started in this process with ${started.threads} thread(s); the thread count cannot change until restart`];
    return { ...started, warnings };
  }
  const files = locateWasmFiles();
  const wasm = await tfwasm();
  if (!pathsSet) {
    wasm.setWasmPaths(files.distDir + path.sep);
    pathsSet = true;
  }
  const features = wasmFeatures();
  let threadsNote = resolved.reason;
  const warnings: string[] = [];
  const listenersBefore = processListeners();
  if (typeof threads === "number" && threads > MAX_WASM_THREADS) {
    warnings.push(`wasm threads capped at ${MAX_WASM_THREADS} (asked for ${threads}): this tfjs build pre-starts ${MAX_WASM_THREADS} thread workers`);
  }
  let threadsNow = 0; // 0: not started yet
  if (wanted > 1) {
    const refusal = threadedRefusal(files, features);
    if (refusal !== null) {
      threadsNote = refusal;
    } else {
      try {
        threadsNow = await startThreaded(wasm, files, wanted);
        if (threadsNow < wanted) warnings.push(`wasm asked for ${wanted} threads but XNNPACK started ${threadsNow}`);
      } catch (err) {
        threadsNote = `multithreaded start failed (${messageOf(err)})`;
        await resetWasmBackend(wasm);
        threadsNow = 0;
      }
    }
  }
  if (threadsNow === 0) {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    if ((await tf.setBackend("wasm")) !== true) throw new Error("tfjs-backend-wasm failed to initialise");
    checkArithmetic();
    threadsNow = 1;
  }
  removeListenersAddedSince(listenersBefore);
  if (threadsNote !== undefined) warnings.unshift(`wasm runs on 1 thread: ${threadsNote}`);
  started = { threads: threadsNow, simd: features.simd, warnings: [], threadsNote };
  return { threads: threadsNow, simd: features.simd, warnings, threadsNote };
}

type CrashEvent = "uncaughtException" | "unhandledRejection";
const CRASH_EVENTS: CrashEvent[] = ["uncaughtException", "unhandledRejection"];

type Listener = (...args: unknown[]) => void;

function listenersOf(e: CrashEvent): Listener[] {
  return (process.listeners as (event: string) => Listener[])(e);
}

function processListeners(): Map<CrashEvent, Listener[]> {
  return new Map(CRASH_EVENTS.map((e) => [e, listenersOf(e)]));
}

/**
 * The Emscripten glue adds process-wide "uncaughtException" / "unhandledRejection" listeners
 * that rethrow, which turns any later crash of the whole process into exit code 7 with a
 * confusing trace. They serve nothing once the module is up: remove them.
 */
function removeListenersAddedSince(before: Map<CrashEvent, Listener[]>): void {
  for (const e of CRASH_EVENTS) {
    const old = before.get(e) ?? [];
    for (const listener of listenersOf(e)) {
      if (!old.includes(listener)) process.removeListener(e, listener);
    }
  }
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message.split("\n")[0] ?? err.message;
  if (typeof err === "object" && err !== null && typeof (err as { message?: unknown }).message === "string") {
    return (err as { message: string }).message;
  }
  return String(err);
}

/** Why the threaded start is not even tried here, or null. */
function threadedRefusal(files: WasmFiles, features: WasmFeatures): string | null {
  if (files.version !== PINNED_VERSION) {
    return `multithreading patches tfjs-backend-wasm internals and is only enabled for ${PINNED_VERSION} (installed: ${files.version})`;
  }
  if (!features.threads) return "this Node has no WebAssembly threads / SharedArrayBuffer / worker_threads";
  if (!features.simd) return "the threaded tfjs build needs WebAssembly SIMD, which this Node lacks";
  return null;
}

/** Build (once per content) the pthread worker script as a real file and return its path. */
function writeWorkerScript(files: WasmFiles): string {
  const workerModule: unknown = requireHere(path.join(files.packageDir, "wasm-out", "tfjs-backend-wasm-threaded-simd.worker.js"));
  const contents = (workerModule as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  if (typeof contents !== "string") throw new Error("tfjs-backend-wasm worker script not found (wasmWorkerContents)");
  const mainScript = path.join(files.packageDir, "wasm-out", "tfjs-backend-wasm-threaded-simd.js");
  if (!fs.readFileSync(mainScript, "utf8").includes("var WasmBackendModuleThreadedSimd")) {
    throw new Error(`${mainScript} does not define WasmBackendModuleThreadedSimd`);
  }
  // tfjs escapes real newlines the same way before putting the script in a Blob.
  const source =
    contents.replace(/\n/g, "\\n") +
    "\n;(function () {\n" +
    "  var original = self.onmessage;\n" +
    "  self.onmessage = function (e) {\n" +
    '    if (e && e.data && e.data.cmd === "load") {\n' +
    `      e.data.urlOrBlob = ${JSON.stringify(mainScript)};\n` +
    // inside a worker thread this ends that thread only (Node worker_threads), not the process
    "      try { return original(e); } catch (err) { process.exit(70); }\n" +
    "    }\n" +
    "    return original(e);\n" +
    "  };\n" +
    "})();\n";
  new vm.Script(source, { filename: "diffx-wasm-worker.js" }); // throws on a syntax error, before any worker runs it
  const digest = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const target = path.join(os.tmpdir(), `diffx-tfjs-wasm-${files.version}-worker-${digest}.js`);
  let current: string | null = null;
  try {
    current = fs.readFileSync(target, "utf8");
  } catch {
    current = null;
  }
  if (current !== source) writeFileAtomic(target, source);
  return target;
}

interface WorkerLike {
  terminate(): Promise<number>;
  unref(): void;
  once(event: "exit", listener: (code: number) => void): unknown;
}
type WorkerClass = new (...args: never[]) => WorkerLike;

/** Start wasm with `threads` XNNPACK threads; returns the count it got. Throws on any failure (caller resets). */
async function startThreaded(wasm: TfWasm, files: WasmFiles, threads: number): Promise<number> {
  const workerScript = writeWorkerScript(files);
  const workerThreads = requireHere("node:worker_threads") as { Worker: WorkerClass };
  const OriginalWorker = workerThreads.Worker;
  const originalCpus = os.cpus;
  const originalCreateObjectURL = URL.createObjectURL;
  const osModule = requireHere("node:os") as { cpus: typeof os.cpus };
  const workers: WorkerLike[] = [];
  let rejectEarly: (reason: Error) => void = () => undefined;
  const early = new Promise<never>((_, reject) => {
    rejectEarly = reject;
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the thread workers within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  let ok = false;
  try {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
    wasm.setThreadsCount(threads);
    URL.createObjectURL = (obj: Blob) => (obj instanceof Blob && obj.type === "application/javascript" ? workerScript : originalCreateObjectURL(obj));
    osModule.cpus = () => {
      const real = originalCpus();
      const want = Math.max(real.length, 2 * threads);
      return Array.from({ length: want }, (_, i) => real[i % real.length]!);
    };
    // A subclass that remembers every pthread worker and notices one dying during start-up.
    workerThreads.Worker = class extends (OriginalWorker as new (...args: unknown[]) => WorkerLike) {
      constructor(...args: unknown[]) {
        super(...args);
        workers.push(this);
        this.once("exit", (code: number) => {
          if (!ok) rejectEarly(new Error(`a wasm thread worker exited during start-up (code ${code})`));
        });
      }
    } as unknown as WorkerClass;
    const selected = await Promise.race([tf.setBackend("wasm"), early, timeout]);
    if (selected !== true) throw new Error("tf.setBackend('wasm') returned false");
    checkArithmetic();
    ok = true;
    // Emscripten ref()s a worker while a pthread runs on it, and XNNPACK's pool threads run
    // forever: without this the process would never exit on its own.
    for (const w of workers) w.unref();
    return wasm.getThreadsCount();
  } catch (err) {
    await Promise.allSettled(workers.map((w) => w.terminate()));
    throw err;
  } finally {
    clearTimeout(timer);
    early.catch(() => undefined);
    timeout.catch(() => undefined);
    workerThreads.Worker = OriginalWorker;
    osModule.cpus = originalCpus;
    URL.createObjectURL = originalCreateObjectURL;
  }
}

/** A failed start leaves tfjs with a broken "wasm" entry: drop it and register the package's factory again. */
async function resetWasmBackend(wasm: TfWasm): Promise<void> {
  const factory = tf.findBackendFactory("wasm");
  if (factory === null || factory === undefined) throw new Error("tfjs-backend-wasm did not register its backend factory");
  try {
    tf.removeBackend("wasm");
  } catch {
    /* already gone */
  }
  tf.registerBackend("wasm", factory, WASM_PRIORITY);
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  wasm.setThreadsCount(1);
}

/** A freshly started backend must compute a known matrix product exactly (small integers). */
function checkArithmetic(): void {
  const got = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), tf.tensor2d([7, 8, 9, 10, 11, 12], [3, 2])).dataSync());
  const want = [58, 64, 139, 154];
  if (got.length !== 4 || want.some((v, i) => got[i] !== v)) {
    throw new Error(`the started wasm backend computes a wrong matrix product (${Array.from(got).join(",")})`);
  }
}

/** Whether the wasm backend has been started in this process, and how. */
export function wasmStarted(): WasmStart | null {
  return started;
}
