/**
 * Running an exported model in onnxruntime-node: graph optimisation "all", one intra-op thread
 * per core that sleeps rather than spins when it runs out of work, the CUDA execution provider
 * first when it is wanted and present, else the CPU.
 *
 * Spinning (onnxruntime's default) keeps the intra-op threads busy-waiting between operators.
 * On the shared 2-core reference machine (load average 5–8 from other jobs) that made a
 * batch-16 forward of the bench network 1.5–3× slower than with sleeping threads (median 238 vs
 * 82 ms, interleaved), because the spinning threads take the cores from the thread that has work;
 * a 1-thread session was in between (124 ms). On a quiet machine (load ≈ 1.6) spinning was the
 * faster one: 16.9 vs 15.0 images/s for 25-step DDIM sampling, interleaved. So by default the
 * threads spin only when the machine is not busy (1-minute load average < CPUs, the rule the
 * wasm thread count follows). Results are bit-identical either way (tested).
 *
 * CUDA needs onnxruntime-node's CUDA provider library next to its binding (downloaded at
 * `npm install` on linux-x64 unless ONNXRUNTIME_NODE_INSTALL=skip). With it, CUDA is tried when
 * `DIFFX_ORT_CUDA=1` (or `cuda: "on"`), or — in the default "auto" mode — when an NVIDIA driver
 * is loaded. If the CUDA session cannot be created, the CPU is used and the reason is kept in
 * `skipped`.
 * `DIFFX_ORT_CUDA=0` (or `cuda: "off"`) never tries it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createRequire } from "node:module";
import * as ort from "onnxruntime-node";
import { RuntimeFailure, UsageError } from "../errors.js";

export type CudaChoice = "auto" | "on" | "off";

export interface OnnxSessionOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** Default: from DIFFX_ORT_CUDA ("1" → on, "0" → off), else auto. */
  cuda?: CudaChoice;
  /** Let idle intra-op threads busy-wait for the next operator (default: only when the machine is not busy, see spinByDefault). */
  spinning?: boolean;
}

export interface OnnxSession {
  readonly session: ort.InferenceSession;
  /** Where the model came from (a file path, or "<bytes>"). */
  readonly source: string;
  /** The execution provider that runs the model. */
  readonly provider: "cuda" | "cpu";
  /** Providers not used, and why. */
  readonly skipped: { name: string; reason: string }[];
  readonly threads: number;
  /** Whether idle intra-op threads spin (see OnnxSessionOptions.spinning). */
  readonly spinning: boolean;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

/** One input tensor: row-major data and its shape. */
export interface OnnxFeed {
  data: Float32Array | Int32Array | BigInt64Array;
  shape: number[];
}

/** The CUDA choice from DIFFX_ORT_CUDA. */
export function cudaChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): CudaChoice {
  const v = env.DIFFX_ORT_CUDA;
  if (v === "1" || v === "true") return "on";
  if (v === "0" || v === "false") return "off";
  return "auto";
}

/** Null when onnxruntime-node's CUDA provider library is installed, else why it cannot be used. */
export function cudaProviderMissing(): string | null {
  if (process.platform !== "linux" || process.arch !== "x64") return `onnxruntime-node ships no CUDA provider for ${process.platform}-${process.arch}`;
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve("onnxruntime-node/package.json"));
  const lib = path.join(root, "bin", "napi-v6", process.platform, process.arch, "libonnxruntime_providers_cuda.so");
  return fs.existsSync(lib) ? null : `the CUDA provider library is not installed (${lib}; reinstall onnxruntime-node without ONNXRUNTIME_NODE_INSTALL=skip)`;
}

/** Whether intra-op threads spin when not told: only while the machine is not busy (load < CPUs). */
export function spinByDefault(cpus: number, load: number): boolean {
  return load < cpus;
}

/** Null when an NVIDIA driver is loaded, else why CUDA is not tried in "auto" mode. */
export function nvidiaDriverMissing(): string | null {
  return fs.existsSync("/proc/driver/nvidia/version") ? null : "no NVIDIA driver loaded (/proc/driver/nvidia/version is missing)";
}

/** Loads a model (a file path or its bytes) into an onnxruntime-node session. */
export async function createOnnxSession(model: string | Uint8Array, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
  const source = typeof model === "string" ? model : "<bytes>";
  if (typeof model === "string" && !fs.existsSync(model)) throw new UsageError(`${model}: no such ONNX model file`);
  const threads = options.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`onnxruntime threads must be a positive integer, got ${threads}`);
  const cuda = options.cuda ?? cudaChoiceFromEnv();
  const spinning = options.spinning ?? spinByDefault(os.availableParallelism(), os.loadavg()[0] ?? 0);
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    // the arena and the memory pattern (onnxruntime's defaults, stated): buffers planned once
    // and reused by every run of the same shapes
    enableCpuMemArena: true,
    enableMemPattern: true,
    extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } },
  };
  const skipped: { name: string; reason: string }[] = [];
  const open = (opts: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> =>
    typeof model === "string" ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts);

  if (cuda === "off") {
    skipped.push({ name: "cuda", reason: "turned off (DIFFX_ORT_CUDA=0)" });
  } else {
    // Without the provider library the attempt cannot succeed and onnxruntime would log the
    // failure to stderr itself, so it is not made.
    const missing = cudaProviderMissing() ?? (cuda === "auto" ? nvidiaDriverMissing() : null);
    if (missing) {
      skipped.push({ name: "cuda", reason: cuda === "on" ? `DIFFX_ORT_CUDA=1, but ${missing}` : missing });
    } else {
      try {
        // logSeverityLevel 4: a failed CUDA attempt is reported through `skipped`, not stderr.
        const session = await open({ ...base, executionProviders: ["cuda"], logSeverityLevel: 4 });
        return describe(session, source, "cuda", skipped, threads, spinning);
      } catch (err) {
        skipped.push({ name: "cuda", reason: firstLine(err) });
      }
    }
  }
  try {
    const session = await open({ ...base, executionProviders: ["cpu"] });
    return describe(session, source, "cpu", skipped, threads, spinning);
  } catch (err) {
    throw new UsageError(`${source}: onnxruntime cannot load this model: ${firstLine(err)}`);
  }
}

function describe(session: ort.InferenceSession, source: string, provider: "cuda" | "cpu", skipped: { name: string; reason: string }[], threads: number, spinning: boolean): OnnxSession {
  return { session, source, provider, skipped, threads, spinning, inputNames: session.inputNames, outputNames: session.outputNames };
}

/** Runs the model and returns its (first) output with its shape. */
export async function runOnnxWithShape(s: OnnxSession, feeds: Record<string, OnnxFeed>): Promise<{ data: Float32Array; shape: number[] }> {
  for (const name of s.inputNames) {
    if (!(name in feeds)) throw new RuntimeFailure(`${s.source}: no value given for the model input "${name}" (inputs: ${s.inputNames.join(", ")})`);
  }
  const tensors: Record<string, ort.Tensor> = {};
  for (const [name, f] of Object.entries(feeds)) {
    if (!s.inputNames.includes(name)) throw new RuntimeFailure(`${s.source}: the model has no input "${name}" (inputs: ${s.inputNames.join(", ")})`);
    tensors[name] = toTensor(f);
  }
  const outName = s.outputNames[0];
  if (outName === undefined) throw new RuntimeFailure(`${s.source}: the model has no outputs`);
  let result: ort.InferenceSession.ReturnType;
  try {
    result = await s.session.run(tensors);
  } catch (err) {
    const given = Object.entries(feeds).map(([n, f]) => `${n} [${f.shape.join(", ")}]`).join(", ");
    throw new RuntimeFailure(`${s.source}: onnxruntime failed on inputs ${given}: ${firstLine(err)}`);
  }
  const out = result[outName];
  if (!out || out.type !== "float32" || !(out.data instanceof Float32Array)) throw new RuntimeFailure(`${s.source}: output "${outName}" is not a float32 tensor`);
  // onnxruntime-node hands every run's output over in a buffer of its own: no copy needed
  return { data: out.data, shape: [...out.dims] };
}

/** Runs the model and returns its (first) output's data (row-major). */
export async function runOnnx(s: OnnxSession, feeds: Record<string, OnnxFeed>): Promise<Float32Array> {
  return (await runOnnxWithShape(s, feeds)).data;
}

export async function releaseOnnxSession(s: OnnxSession): Promise<void> {
  await s.session.release();
}

function toTensor(f: OnnxFeed): ort.Tensor {
  const count = f.shape.reduce((a, b) => a * b, 1);
  if (f.data.length !== count) throw new RuntimeFailure(`ONNX input: ${f.data.length} values for shape [${f.shape.join(", ")}]`);
  if (f.data instanceof Float32Array) return new ort.Tensor("float32", f.data, f.shape);
  if (f.data instanceof Int32Array) return new ort.Tensor("int32", f.data, f.shape);
  return new ort.Tensor("int64", f.data, f.shape);
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0]?.trim() ?? msg;
}
