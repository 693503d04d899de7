/**
 * What onnxruntime-node's CUDA execution provider needs on this machine, piece by piece, and the
 * choice `engine.device` (auto | cpu | cuda) makes from it. `diffx doctor` prints the pieces;
 * training and sampling ask for a choice before they write anything.
 *
 * The pieces, in the order they are needed:
 *  1. linux-x64: the only platform onnxruntime-node 1.30 ships a CUDA provider for.
 *  2. The provider libraries beside onnxruntime-node's binding (bin/napi-v6/linux/x64/):
 *     libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so. They are not in the
 *     npm package; its install script downloads them unless told to skip, as this project's
 *     .npmrc does (`ONNXRUNTIME_NODE_INSTALL=cuda12` overrides the skip).
 *  3. An NVIDIA driver: the kernel module (/proc/driver/nvidia/version) and its user-space
 *     library libcuda.so.1.
 *  4. The CUDA 12 and cuDNN 9 libraries the provider loads: libcudart.so.12, libcublas.so.12,
 *     libcublasLt.so.12, libcurand.so.10 and libcudnn.so.9, found where the dynamic loader looks:
 *     the provider's own folder (its RPATH is $ORIGIN), LD_LIBRARY_PATH, the ldconfig cache, then
 *     the default folders. (Any CUDA 12.x and cuDNN 9.x work: onnxruntime's builds are minor-
 *     version compatible within a major version, and cuDNN 8 and 9 are not interchangeable.)
 * With every piece present, "the provider loads" is decided by doing it: a child process opens a
 * one-convolution model on the CUDA provider and runs it once. A child, so that this process
 * never holds a CUDA context (the parent of GPU workers would otherwise keep memory on GPU 0).
 *
 * Versions for the run manifest come from the same look-up: the driver from the kernel module's
 * version line, CUDA and cuDNN from the file names the libraries resolve to
 * (libcudart.so.12 → libcudart.so.12.4.127).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { UsageError } from "../errors.js";
import type { DeviceRecord } from "../runs/manifest.js";
import { buildOnnxModel } from "./onnx-export.js";

export type DeviceRequest = "auto" | "cpu" | "cuda";
export const DEVICE_REQUESTS: readonly DeviceRequest[] = ["auto", "cpu", "cuda"];

/** Where an onnxruntime session runs: the CPU, or the CUDA provider on one GPU (a CUDA ordinal in this process). */
export type OnnxDevice = { provider: "cpu" } | { provider: "cuda"; deviceId: number };

export const CPU_DEVICE: OnnxDevice = { provider: "cpu" };

/** The provider libraries onnxruntime-node's install script puts beside its binding. */
export const PROVIDER_LIBRARIES = ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"] as const;

/** The CUDA 12 / cuDNN 9 libraries the CUDA provider loads, and what each is. */
export const CUDA_LIBRARIES: readonly { soname: string; what: string }[] = [
  { soname: "libcudart.so.12", what: "the CUDA 12 runtime" },
  { soname: "libcublas.so.12", what: "cuBLAS of CUDA 12" },
  { soname: "libcublasLt.so.12", what: "cuBLASLt of CUDA 12" },
  { soname: "libcurand.so.10", what: "cuRAND of CUDA 12" },
  { soname: "libcudnn.so.9", what: "cuDNN 9" },
];

/** Everything the checks read from the machine; tests pass a fake one. */
export interface CudaMachine {
  /** `${platform}-${arch}`, e.g. "linux-x64". */
  platform: string;
  /** The folder of onnxruntime-node's binding, where the provider libraries belong. */
  bindingDir: string;
  /** LD_LIBRARY_PATH's folders, in order. */
  libraryPath: string[];
  /** `ldconfig -p` output, or null when it cannot be run. */
  ldCache: string | null;
  /** The folders the loader tries last. */
  defaultDirs: string[];
  /** /proc/driver/nvidia/version, or null when no NVIDIA kernel driver is loaded. */
  driverFile: string | null;
  /** `nvidia-smi` output listing the GPUs, or null when it is absent or fails (information only). */
  nvidiaSmi: string | null;
}

export interface CudaPiece {
  /** What this piece is ("provider library libonnxruntime_providers_cuda.so", "cuDNN 9 (libcudnn.so.9)", …). */
  name: string;
  /** Where it was found (a path, or a version), or null. */
  found: string | null;
  /** What is missing and what to do about it, or null when present. */
  missing: string | null;
}

export interface CudaVersions {
  driver: string | null;
  cuda: string | null;
  cudnn: string | null;
}

export interface CudaCheck {
  /** Every piece is present (whether the provider then loads is the probe's question). */
  ready: boolean;
  pieces: CudaPiece[];
  /** The first missing piece's message, or null. */
  missing: string | null;
  versions: CudaVersions;
}

const requireHere = createRequire(import.meta.url);

/** onnxruntime-node's binding folder on this platform. */
export function bindingDir(): string {
  const root = path.dirname(requireHere.resolve("onnxruntime-node/package.json"));
  return path.join(root, "bin", "napi-v6", process.platform, process.arch);
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

function runOrNull(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  return r.error || r.status !== 0 || typeof r.stdout !== "string" ? null : r.stdout;
}

/** This machine, as the checks see it. */
export function thisMachine(env: NodeJS.ProcessEnv = process.env): CudaMachine {
  return {
    platform: `${process.platform}-${process.arch}`,
    bindingDir: bindingDir(),
    libraryPath: (env.LD_LIBRARY_PATH ?? "").split(":").filter((d) => d !== ""),
    ldCache: runOrNull("/sbin/ldconfig", ["-p"]) ?? runOrNull("ldconfig", ["-p"]),
    defaultDirs: ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"],
    driverFile: readOrNull("/proc/driver/nvidia/version"),
    nvidiaSmi: runOrNull("nvidia-smi", ["-L"]),
  };
}

/** Where the loader finds `soname` for the provider library (in its order), or null. */
export function resolveLibrary(soname: string, m: CudaMachine): string | null {
  for (const dir of [m.bindingDir, ...m.libraryPath]) {
    const file = path.join(dir, soname);
    if (fs.existsSync(file)) return file;
  }
  for (const line of (m.ldCache ?? "").split("\n")) {
    // "\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.12"
    const hit = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
    if (hit && hit[1] === soname && hit[2].includes("x86-64")) return hit[3]; // not the 32-bit "(libc6)" ones
  }
  for (const dir of m.defaultDirs) {
    const file = path.join(dir, soname);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

/** "12.4.127" from a library that resolves to libcudart.so.12.4.127; the major version alone when the file name has no more. */
export function libraryVersion(file: string, soname: string): string {
  let real = file;
  try {
    real = fs.realpathSync(file);
  } catch {
    // a dangling link: the name is all there is
  }
  const base = path.basename(real);
  const major = soname.slice(soname.lastIndexOf(".so.") + 4);
  const stem = soname.slice(0, soname.lastIndexOf(".so.") + 4);
  return base.startsWith(stem) && /^\d+(\.\d+)*$/.test(base.slice(stem.length)) ? base.slice(stem.length) : major;
}

/** The driver version from /proc/driver/nvidia/version ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  …"). */
export function driverVersion(text: string): string | null {
  return /Kernel Module(?:\s+for\s+\S+)?\s+(\d+(?:\.\d+)+)/.exec(text)?.[1] ?? null;
}

const INSTALL_HINT = "install the CUDA provider with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install` (or, in an existing install, `ONNXRUNTIME_NODE_INSTALL=cuda12 npm run postinstall`)";

/** Every piece the CUDA provider needs, checked on `m` (default: this machine). Does not load anything. */
export function checkCuda(m: CudaMachine = thisMachine()): CudaCheck {
  const pieces: CudaPiece[] = [];
  const versions: CudaVersions = { driver: null, cuda: null, cudnn: null };
  const platformOk = m.platform === "linux-x64";
  pieces.push({
    name: "platform (linux-x64)",
    found: platformOk ? m.platform : null,
    missing: platformOk ? null : `onnxruntime-node ships its CUDA provider only for linux-x64, and this is ${m.platform}`,
  });
  for (const lib of PROVIDER_LIBRARIES) {
    const file = path.join(m.bindingDir, lib);
    const ok = fs.existsSync(file);
    pieces.push({
      name: `provider library ${lib}`,
      found: ok ? file : null,
      missing: ok ? null : `${file} is missing: onnxruntime-node was installed without its CUDA provider (this project skips that download by default); ${INSTALL_HINT}`,
    });
  }
  const driver = m.driverFile === null ? null : driverVersion(m.driverFile) ?? "unknown version";
  versions.driver = driver === "unknown version" ? null : driver;
  pieces.push({
    name: "NVIDIA driver (kernel module)",
    found: driver,
    missing: driver ? null : `no NVIDIA driver is loaded (/proc/driver/nvidia/version is missing${m.nvidiaSmi === null ? "; nvidia-smi is absent or fails" : ""}): install the NVIDIA driver (≥ 525 for CUDA 12), or in a container pass the GPUs through (docker run --gpus all)`,
  });
  const libcuda = resolveLibrary("libcuda.so.1", m);
  pieces.push({
    name: "libcuda.so.1 (the NVIDIA driver's library)",
    found: libcuda,
    missing: libcuda ? null : "libcuda.so.1 (the driver's user-space library) is not found in LD_LIBRARY_PATH, the ldconfig cache or the system library folders: install the NVIDIA driver's libraries (in a container: the NVIDIA container toolkit provides them)",
  });
  for (const { soname, what } of CUDA_LIBRARIES) {
    const file = resolveLibrary(soname, m);
    if (file && soname === "libcudart.so.12") versions.cuda = libraryVersion(file, soname);
    if (file && soname === "libcudnn.so.9") versions.cudnn = libraryVersion(file, soname);
    const cudnn = soname.startsWith("libcudnn");
    pieces.push({
      name: `${soname} (${what})`,
      found: file,
      missing: file
        ? null
        : `${soname} (${what}) is not found in ${m.libraryPath.length ? `LD_LIBRARY_PATH (${m.libraryPath.join(":")})` : "LD_LIBRARY_PATH (unset)"}, the ldconfig cache or the system library folders: ${
            cudnn ? "install cuDNN 9 for CUDA 12 (e.g. the Debian/Ubuntu package libcudnn9-cuda-12) or add its lib folder to LD_LIBRARY_PATH" : "install the CUDA 12 toolkit or runtime libraries (e.g. cuda-libraries-12-x) or add their lib folder (often /usr/local/cuda/lib64) to LD_LIBRARY_PATH"
          }`,
    });
  }
  const first = pieces.find((p) => p.missing !== null);
  return { ready: first === undefined, pieces, missing: first?.missing ?? null, versions };
}

/** A one-convolution model (NHWC input x [1, 4, 4, 1]): the probe needs cuDNN, as training does. */
function probeModel(): Uint8Array {
  const w = { shape: [3, 3, 1, 1], data: new Float32Array(9).fill(0.5) };
  return buildOnnxModel((ops, v) => ops.conv2d(v.x!, ops.param("w"), null, 1, [1, 1, 1, 1]), new Map([["w", w]]), [{ name: "x", dtype: "float32", shape: [1, 4, 4, 1] }]).bytes;
}

const PROBE_SCRIPT = `
const ort = require(process.env.DIFFX_PROBE_ORT);
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", async () => {
  try {
    const s = await ort.InferenceSession.create(Buffer.concat(chunks), { executionProviders: [{ name: "cuda", deviceId: Number(process.env.DIFFX_PROBE_DEVICE) }], logSeverityLevel: 4 });
    await s.run({ x: new ort.Tensor("float32", new Float32Array(16).fill(1), [1, 4, 4, 1]) });
    await s.release();
    process.stdout.write(JSON.stringify({ ok: true }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String((e && e.message) || e).split("\\n")[0] }));
  }
});
`;

/**
 * Open and run a tiny model on the CUDA provider (GPU `deviceId` of this process's CUDA
 * ordering) in a child process. Null when it worked, else onnxruntime's reason.
 */
export function probeCudaProvider(deviceId = 0): string | null {
  const r = spawnSync(process.execPath, ["-e", PROBE_SCRIPT], {
    input: Buffer.from(probeModel()),
    env: { ...process.env, DIFFX_PROBE_ORT: requireHere.resolve("onnxruntime-node"), DIFFX_PROBE_DEVICE: String(deviceId) },
    encoding: "utf8",
    timeout: 180_000,
  });
  if (r.error) return `the probe process failed: ${r.error.message}`;
  try {
    const out = JSON.parse(r.stdout) as { ok: boolean; error?: string };
    return out.ok ? null : out.error ?? "unknown error";
  } catch {
    const tail = (r.stderr ?? "").trim().split("\n").pop() ?? "";
    return `the probe process ended without an answer (exit ${String(r.status ?? r.signal)})${tail ? `: ${tail}` : ""}`;
  }
}

/** The device a command runs onnxruntime on, why, and (CUDA) the versions it found. */
export interface DeviceChoice {
  requested: DeviceRequest;
  provider: "cuda" | "cpu";
  reason: string;
  /** CUDA only. */
  versions?: CudaVersions;
  /** CUDA only: "on (onnxruntime's default)" or "off (NVIDIA_TF32_OVERRIDE=0)". */
  tf32?: string;
}

export interface ChooseDeviceOptions {
  /** Where the request came from, for messages ("engine.device", "--device"). */
  source?: string;
  /** Injectable for tests (default: checkCuda() on this machine). */
  check?: () => CudaCheck;
  /** Injectable for tests (default: probeCudaProvider()). */
  probe?: () => string | null;
  env?: NodeJS.ProcessEnv;
}

/** TF32 (tensor-core float32 matmuls and convolutions) as onnxruntime's CUDA provider will use it. */
export function tf32State(env: NodeJS.ProcessEnv = process.env): string {
  return env.NVIDIA_TF32_OVERRIDE === "0" ? "off (NVIDIA_TF32_OVERRIDE=0)" : "on (onnxruntime's default; NVIDIA_TF32_OVERRIDE=0 turns it off)";
}

let probed: { check: CudaCheck; failure: string | null } | null = null;

/** The machine's CUDA check and probe, done once per process (the probe starts CUDA in a child: seconds). */
function cudaOnThisMachine(): { check: CudaCheck; failure: string | null } {
  if (!probed) {
    const check = checkCuda();
    probed = { check, failure: check.ready ? probeCudaProvider(0) : check.missing };
  }
  return probed;
}

/**
 * Resolve `engine.device`: cpu as asked; cuda when every piece is present and the provider loads,
 * else a UsageError (exit 2) naming the missing piece; auto = cuda where it loads, else cpu with
 * the reason. Throws before anything is written.
 */
export function chooseDevice(requested: DeviceRequest, o: ChooseDeviceOptions = {}): DeviceChoice {
  const source = o.source ?? "engine.device";
  if (!(DEVICE_REQUESTS as readonly string[]).includes(requested)) {
    throw new UsageError(`${source} ${String(requested)}: use one of ${DEVICE_REQUESTS.join(", ")}`);
  }
  if (requested === "cpu") return { requested, provider: "cpu", reason: `${source}: cpu` };
  let check: CudaCheck;
  let failure: string | null;
  if (o.check || o.probe) {
    check = (o.check ?? checkCuda)();
    failure = check.ready ? (o.probe ?? probeCudaProvider)() : check.missing;
  } else {
    ({ check, failure } = cudaOnThisMachine());
  }
  if (failure === null) {
    return { requested, provider: "cuda", reason: `${source}: ${requested}${requested === "auto" ? " (the CUDA provider loads)" : ""}`, versions: check.versions, tf32: tf32State(o.env) };
  }
  const why = check.ready ? `onnxruntime could not start its CUDA provider: ${failure}` : failure;
  if (requested === "cuda") {
    throw new UsageError(`${source} cuda: CUDA cannot be used here: ${why}. \`diffx doctor\` lists every piece the CUDA provider needs; use ${source === "--device" ? "--device cpu" : "engine.device: cpu (or auto)"} to run on the CPU`);
  }
  return { requested, provider: "cpu", reason: `auto: CUDA not used: ${why}` };
}

/**
 * The onnxruntime device of a process computing on `provider`. On CUDA that is ordinal 0: a GPU
 * worker sees only its own GPU (CUDA_VISIBLE_DEVICES, train/parallel/devices.ts), and a single
 * process uses the first GPU CUDA shows it.
 */
export function onnxDevice(provider: "cuda" | "cpu"): OnnxDevice {
  return provider === "cuda" ? { provider: "cuda", deviceId: 0 } : CPU_DEVICE;
}

/** What a run manifest records of a device choice (backend.device). */
export function deviceRecord(d: DeviceChoice): DeviceRecord {
  return d.provider === "cuda"
    ? { requested: d.requested, provider: "cuda", reason: d.reason, driver: d.versions?.driver ?? null, cuda: d.versions?.cuda ?? null, cudnn: d.versions?.cudnn ?? null, tf32: d.tf32 ?? null }
    : { requested: d.requested, provider: "cpu", reason: d.reason };
}
