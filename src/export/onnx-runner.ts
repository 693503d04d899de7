/**
 * Running an exported model in onnxruntime-node: graph optimisation "all", one intra-op thread
 * per core that sleeps rather than spins when it runs out of work, on the CPU or on one GPU
 * through onnxruntime's CUDA execution provider.
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
 * The device is given (OnnxSessionOptions.device, from engine.device through
 * cuda-provider.ts's chooseDevice): the CPU, or onnxruntime's CUDA execution provider on one GPU
 * (`{ name: "cuda", deviceId }`, the only CUDA option onnxruntime-node passes on, so the
 * provider's defaults hold: TF32 on unless NVIDIA_TF32_OVERRIDE=0). Nodes the CUDA provider has no
 * kernel for run on the CPU inside the same session; inputs and outputs stay in host memory.
 * A session asked for on CUDA that cannot be opened there is an error, never a silent CPU run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as ort from "onnxruntime-node";
import { RuntimeFailure, UsageError } from "../errors.js";
import { CPU_DEVICE, type OnnxDevice } from "./cuda-provider.js";

export interface OnnxSessionOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** Where the session runs (default: the CPU). */
  device?: OnnxDevice;
  /** Let idle intra-op threads busy-wait for the next operator (default: only when the machine is not busy, see spinByDefault). */
  spinning?: boolean;
  /** Keep onnxruntime's CPU memory arena (default true). Off, memory is freed after each run instead of held by the arena. */
  memoryArena?: boolean;
}

export interface OnnxSession {
  readonly session: ort.InferenceSession;
  /** Where the model came from (a file path, or "<bytes>"). */
  readonly source: string;
  /** The execution provider that runs the model. */
  readonly provider: "cuda" | "cpu";
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

/** Whether intra-op threads spin when not told: only while the machine is not busy (load < CPUs). */
export function spinByDefault(cpus: number, load: number): boolean {
  return load < cpus;
}

/**
 * onnxruntime's session options for `device`: graph optimisation "all", `threads` intra-op
 * threads (sleeping or spinning when idle), one inter-op thread, sequential execution, the CPU
 * arena (unless `memoryArena` is false) and memory pattern; on CUDA the CUDA provider on GPU `deviceId` (nodes it cannot run fall
 * back to the CPU provider inside the session).
 */
export function sessionOptions(device: OnnxDevice, threads: number, spinning: boolean, memoryArena = true): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: "all",
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    // the arena and the memory pattern (onnxruntime's defaults, stated): buffers planned once
    // and reused by every run of the same shapes
    enableCpuMemArena: memoryArena,
    enableMemPattern: true,
    extra: { session: { intra_op: { allow_spinning: spinning ? "1" : "0" } } },
    ...(device.provider === "cuda"
      ? // errors only: the CUDA provider warns on every session about the nodes it leaves to the CPU and the copies it adds
        { executionProviders: [{ name: "cuda", deviceId: device.deviceId }], logSeverityLevel: 3 as const }
      : { executionProviders: ["cpu"] }),
  };
}

/** Loads a model (a file path or its bytes) into an onnxruntime-node session. */
export async function createOnnxSession(model: string | Uint8Array, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
  const source = typeof model === "string" ? model : "<bytes>";
  if (typeof model === "string" && !fs.existsSync(model)) throw new UsageError(`${model}: no such ONNX model file`);
  const threads = options.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`onnxruntime threads must be a positive integer, got ${threads}`);
  const device = options.device ?? CPU_DEVICE;
  const spinning = options.spinning ?? spinByDefault(os.availableParallelism(), os.loadavg()[0] ?? 0);
  const opts = sessionOptions(device, threads, spinning, options.memoryArena);
  let session: ort.InferenceSession;
  try {
    session = typeof model === "string" ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
  } catch (err) {
    if (device.provider === "cuda") throw new RuntimeFailure(`${source}: onnxruntime could not open this model on its CUDA provider (GPU ${device.deviceId}): ${firstLine(err)}; \`diffx doctor\` checks what CUDA needs, engine.device: cpu runs on the CPU`);
    throw new UsageError(`${source}: onnxruntime cannot load this model: ${firstLine(err)}`);
  }
  return { session, source, provider: device.provider, threads, spinning, inputNames: session.inputNames, outputNames: session.outputNames };
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
