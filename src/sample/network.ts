/**
 * The network session for sampling, on the engine asked for:
 *   tfjs  — the run's weights through the tfjs interpreter on the selected backend;
 *   onnx  — onnxruntime-node, on the CPU or CUDA (engine.device, or the request's device): the run's export (RUN/export/model.onnx) when its sidecar vouches
 *           for the file (sha256) and for these weights (same checkpoint step, EMA choice and
 *           config hash), else the model traced in memory from the checkpoint.
 * Both give the same NetworkSession, so the samplers and the driver do not know which runs.
 * tfjs is imported only for the tfjs engine: loading it costs about a second of CPU.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import type { BackendName } from "../engine/backend.js";
import { silentProgress, type ProgressSink } from "../engine/progress.js";
import { DiffxError } from "../errors.js";
import { onnxNetworkFromFile, onnxNetworkFromParams, type OnnxNetwork } from "../export/onnx-network.js";
import type { OnnxSession } from "../export/onnx-runner.js";
import { chooseDevice, onnxDevice, type DeviceChoice, type DeviceRequest } from "../export/cuda-provider.js";
import { loadOnnxExport } from "../export/sidecar.js";
import { defaultExportFile, latestStep, loadRunWeights, type RunInfo } from "./run-model.js";
import type { NetworkSession } from "./network-session.js";

import type { EngineName } from "./engine-names.js";
export { ENGINE_NAMES, type EngineName } from "./engine-names.js";

/** What ran the network (for the output, samples.jsonl and the manifest). */
export interface EngineInfo {
  engine: EngineName;
  /** tfjs: the backend (wasm, cpu, tensorflow); onnx: the execution provider (cpu, cuda). */
  backend: string;
  /** Version of the package that runs the network. */
  version: string;
  threads: number;
  /** Backends / providers passed over, and why. */
  skipped: { name: string; reason: string }[];
  /** onnx: the exported file used, or null when the model was traced in memory. */
  file: string | null;
  /** onnx: why an export present in the run was not used. */
  note?: string;
  /** onnx: engine.device as resolved (the provider, why, CUDA versions). */
  device?: DeviceChoice;
}

export interface OpenedNetwork {
  session: NetworkSession;
  engine: EngineInfo;
  /** Checkpoint step of the weights. */
  step: number;
}

export interface OpenNetworkRequest {
  engine: EngineName;
  run: RunInfo;
  ema: boolean;
  /** Global --backend (tfjs); default: the run's engine.backend. */
  backend?: BackendName;
  /** onnxruntime intra-op threads (default: all cores). */
  threads?: number;
  /** onnx: `--device`; default: the run's engine.device. */
  device?: DeviceRequest;
  progress?: ProgressSink;
}

export async function openNetwork(req: OpenNetworkRequest): Promise<OpenedNetwork> {
  const { run } = req;
  const progress = req.progress ?? silentProgress;
  if (req.engine === "tfjs") {
    const { initBackend } = await import("../engine/backend.js");
    const { tfjsNetwork } = await import("./tfjs-network.js");
    const backend = await initBackend(req.backend ?? run.config.engine.backend, { threads: run.config.engine.threads });
    for (const w of backend.warnings) progress.warn(w);
    const weights = loadRunWeights(run, req.ema);
    return {
      session: tfjsNetwork(run.config.model, weights.params, weights.lora),
      step: weights.step,
      engine: { engine: "tfjs", backend: backend.name, version: backend.version, threads: backend.threads, skipped: backend.skipped, file: null },
    };
  }
  const step = latestStep(run.runDir);
  const file = defaultExportFile(run.runDir);
  const exported = fs.existsSync(file) ? exportMismatch(file, run, step, req.ema) : "no export";
  const device = chooseDevice(req.device ?? run.config.engine.device, { source: req.device !== undefined ? "--device" : "engine.device" });
  const options = { threads: req.threads, device: onnxDevice(device.provider) };
  let network: OnnxNetwork;
  if (exported === null) {
    network = (await onnxNetworkFromFile(file, options)).network;
  } else {
    const weights = loadRunWeights(run, req.ema);
    network = await onnxNetworkFromParams(run.config.model, weights.params, options, weights.lora);
  }
  return { session: network, step, engine: onnxInfo(network.session, device, exported === null ? file : null, exported === "no export" || exported === null ? undefined : exported) };
}

/** Null when `file` is the export of exactly these weights, else why not. */
function exportMismatch(file: string, run: RunInfo, step: number, ema: boolean): string | null {
  let source;
  try {
    source = loadOnnxExport(file).sidecar.source;
  } catch (err) {
    if (err instanceof DiffxError) return `${file} not used: ${err.message}`;
    throw err;
  }
  if (source.config_hash !== run.configHash) return `${file} not used: it was exported from another config`;
  if (source.step !== step) return `${file} not used: it holds step ${String(source.step)}, the newest checkpoint is step ${step}`;
  if (source.ema !== ema) return `${file} not used: it holds the ${source.ema ? "EMA" : "raw"} weights, ${ema ? "EMA" : "raw"} were asked for`;
  return null;
}

function onnxInfo(s: OnnxSession, device: DeviceChoice, file: string | null, note: string | undefined): EngineInfo {
  const skipped = device.provider === "cpu" && device.requested === "auto" ? [{ name: "cuda", reason: device.reason }] : [];
  const info: EngineInfo = { engine: "onnx", backend: s.provider, version: onnxruntimeVersion(), threads: s.threads, skipped, file, device };
  if (note !== undefined) info.note = note;
  return info;
}

/** onnxruntime-node's package version. */
export function onnxruntimeVersion(): string {
  try {
    const pkg: unknown = createRequire(import.meta.url)("onnxruntime-node/package.json");
    const v = (pkg as { version?: unknown }).version;
    return typeof v === "string" ? v : "unknown";
  } catch {
    return "unknown";
  }
}
