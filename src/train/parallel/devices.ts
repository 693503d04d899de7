/**
 * Which devices data-parallel training runs on, and one worker process per device.
 *
 * On CUDA (engine.device resolved to cuda: onnxruntime's CUDA provider) N GPUs means N worker
 * processes (DESIGN.md, "Backends and devices"), each started with `CUDA_VISIBLE_DEVICES=<its
 * GPU id>` and `CUDA_DEVICE_ORDER=PCI_BUS_ID`, so that the id means the GPU nvidia-smi lists under
 * it (CUDA's own order is fastest-first). A worker therefore sees exactly one GPU, CUDA ordinal 0,
 * and opens its sessions with `deviceId: 0` (cuda-provider.ts, deviceOf), not with the physical
 * id, which would name no GPU inside that process. Hiding the other GPUs also keeps the CUDA
 * runtime, cuBLAS and cuDNN from touching them, and it is how tfjs-node-gpu (which has no device
 * API) is pointed at a GPU too. On the CPU the same path runs N CPU workers with the cores divided
 * between them.
 */
import { spawnSync } from "node:child_process";
import * as os from "node:os";
import { UsageError } from "../../errors.js";

export interface GpuInfo {
  /** The physical index nvidia-smi reports ("0", "3"): what CUDA_VISIBLE_DEVICES takes. */
  id: string;
  name: string;
  memoryMiB: number;
}

/** "auto", a worker count, or a GPU id list like "0,3,5" (a string is always an id list). */
export type DevicesSpec = "auto" | number | string;

/** Where the workers compute: onnxruntime's CUDA provider (GPU workers) or the CPU. */
export type DeviceProvider = "cuda" | "cpu";

export interface WorkerDevice {
  rank: number;
  /** The GPU id, or "cpu". */
  device: string;
  /** Environment for this worker's process (CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER for GPU workers). */
  env: Record<string, string>;
  /** CPU threads this worker may use (≥ 1). */
  threads: number;
}

export interface DevicePlan {
  kind: "gpu" | "cpu";
  workers: WorkerDevice[];
}

export interface ListGpusOptions {
  /** Environment to read CUDA_VISIBLE_DEVICES from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * Runs nvidia-smi and returns its stdout, or null when it is absent or fails. Injectable for
   * tests; the default runs the real tool with a 10 s limit.
   */
  query?: () => string | null;
}

const NVIDIA_SMI_ARGS = ["--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"];

function runNvidiaSmi(): string | null {
  const r = spawnSync("nvidia-smi", NVIDIA_SMI_ARGS, { encoding: "utf8", timeout: 10_000 });
  if (r.error || r.status !== 0 || typeof r.stdout !== "string") return null;
  return r.stdout;
}

interface SmiRow extends GpuInfo {
  uuid: string;
}

function parseSmi(text: string): SmiRow[] {
  const rows: SmiRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length < 4 || !/^\d+$/.test(cells[0])) continue;
    const memory = Number(cells[cells.length - 1]);
    rows.push({
      id: cells[0],
      uuid: cells[1],
      // a GPU name could in principle contain a comma: everything between uuid and memory
      name: cells.slice(2, cells.length - 1).join(", "),
      memoryMiB: Number.isFinite(memory) ? memory : 0,
    });
  }
  return rows;
}

/**
 * The GPUs this process may use: nvidia-smi's list (which ignores CUDA_VISIBLE_DEVICES),
 * restricted to an existing CUDA_VISIBLE_DEVICES in its order. Entries there may be indices or
 * UUIDs (or a UUID prefix); as in CUDA, the list ends at the first entry that names no GPU, and
 * an empty value or "-1" hides every GPU. Empty when nvidia-smi is absent or fails.
 */
export function listGpus(opts: ListGpusOptions = {}): GpuInfo[] {
  const env = opts.env ?? process.env;
  const out = (opts.query ?? runNvidiaSmi)();
  if (out === null) return [];
  const all = parseSmi(out);
  const visible = env.CUDA_VISIBLE_DEVICES;
  const strip = (r: SmiRow): GpuInfo => ({ id: r.id, name: r.name, memoryMiB: r.memoryMiB });
  if (visible === undefined) return all.map(strip);
  const chosen: GpuInfo[] = [];
  for (const raw of visible.split(",")) {
    const entry = raw.trim();
    const row = all.find((r) => r.id === entry || (entry.startsWith("GPU-") && r.uuid.startsWith(entry)));
    if (!row) break;
    if (!chosen.some((g) => g.id === row.id)) chosen.push(strip(row));
  }
  return chosen;
}

/**
 * Turn a `--devices` command-line value into a spec: "auto", a count ("8"), or a GPU id list
 * (anything with a comma, "0,3,5"). A single number on the command line is a count, as in the
 * config file (`devices: 8`); a single GPU is chosen with a trailing comma ("3,").
 */
export function parseDevicesSpec(text: string): DevicesSpec {
  const t = text.trim();
  if (t === "auto") return "auto";
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1) throw new UsageError(`--devices ${text}: needs at least one device (a count ≥ 1, auto, or GPU ids like 0,3,5)`);
    return n;
  }
  if (/^\d+(,\d+)*,?$/.test(t)) return t.replace(/,$/, "");
  throw new UsageError(`--devices ${text}: expected a count (2), auto, or GPU ids like 0,3,5`);
}

/**
 * Where a devices spec was given, so a refusal names it: the `--devices` flag (the default), or
 * the config key `train.devices` and where it was set (file:line, or the `--set` that set it).
 */
export type DevicesSource = { kind: "flag" } | { kind: "config"; where: string };

/** How the refused value is named, e.g. "--devices 64" or "configs/art.yaml:14: train.devices 64". */
export function describeSpec(spec: DevicesSpec, source: DevicesSource): string {
  return source.kind === "config" ? `${source.where}: train.devices ${String(spec)}` : `--devices ${String(spec)}`;
}

/** The same setting with a value that would work, for the advice in a refusal. */
function suggest(value: number, source: DevicesSource): string {
  return source.kind === "config" ? `train.devices: ${value}` : `--devices ${value}`;
}

/** Split `cores` between `n` workers: ⌊cores/n⌋ each (at least 1), the remainder to the first ranks. */
function cpuWorkers(n: number, cores: number): WorkerDevice[] {
  const base = Math.max(1, Math.floor(cores / n));
  const extra = cores > n ? cores - base * n : 0;
  return Array.from({ length: n }, (_, rank) => ({ rank, device: "cpu", env: {}, threads: base + (rank < extra ? 1 : 0) }));
}

function gpuWorkers(gpus: readonly GpuInfo[], cores: number): DevicePlan {
  // each GPU worker still needs a host thread or more for input and kernel launches
  const cpu = cpuWorkers(gpus.length, cores);
  return {
    kind: "gpu",
    workers: gpus.map((g, rank) => ({ rank, device: g.id, env: { CUDA_VISIBLE_DEVICES: g.id, CUDA_DEVICE_ORDER: "PCI_BUS_ID" }, threads: cpu[rank].threads })),
  };
}

/**
 * One worker per device for `spec` on `provider`.
 *
 * - cuda with GPUs visible: one worker per GPU, `CUDA_VISIBLE_DEVICES=<id>`. "auto" = all
 *   visible GPUs; a count N = the first N; "0,3,5" = exactly those.
 * - cuda without GPUs listed by nvidia-smi, cpu: CPU workers with the cores divided between them
 *   (threads ≥ 1 each). "auto" = 1 worker with every core.
 *
 * UsageError (exit 2) when the spec asks for more than there is: GPU ids without GPUs (or on the
 * CPU), ids that are not visible, more GPUs than visible, or more CPU workers than cores.
 * `gpus` is injectable for tests; by default nvidia-smi is asked (only on cuda). `source`
 * says where the spec was given, for the messages.
 */
export function resolveDevices(
  spec: DevicesSpec,
  provider: DeviceProvider,
  cores: number = os.availableParallelism(),
  gpus?: readonly GpuInfo[],
  source: DevicesSource = { kind: "flag" },
): DevicePlan {
  const what = describeSpec(spec, source);
  if (typeof spec === "number" && (!Number.isInteger(spec) || spec < 1)) {
    throw new UsageError(`${what}: the device count must be a whole number ≥ 1`);
  }
  if (typeof spec === "string" && spec !== "auto" && !/^\d+(,\d+)*$/.test(spec)) {
    throw new UsageError(`${what}: expected a count, auto, or GPU ids like 0,3,5`);
  }
  const visible = provider === "cuda" ? (gpus ?? listGpus()) : [];
  const visibleIds = visible.map((g) => g.id).join(", ");

  if (typeof spec === "string" && spec !== "auto") {
    const ids = spec.split(",");
    if (provider !== "cuda") {
      throw new UsageError(`${what}: GPU ids need CUDA, but onnxruntime runs on the CPU here (engine.device cpu, or auto without CUDA: see diffx doctor); use a worker count such as ${suggest(2, source)}`);
    }
    if (visible.length === 0) {
      throw new UsageError(`${what}: no GPU is visible here (nvidia-smi lists none${process.env.CUDA_VISIBLE_DEVICES !== undefined ? " within CUDA_VISIBLE_DEVICES" : ""}); use a worker count such as ${suggest(2, source)} for CPU workers`);
    }
    const seen = new Set<string>();
    const chosen: GpuInfo[] = [];
    for (const id of ids) {
      const canonical = String(Number(id));
      if (seen.has(canonical)) throw new UsageError(`${what}: GPU ${canonical} is listed twice`);
      seen.add(canonical);
      const gpu = visible.find((g) => g.id === canonical);
      if (!gpu) throw new UsageError(`${what}: GPU ${canonical} is not visible here (visible: ${visibleIds})`);
      chosen.push(gpu);
    }
    return gpuWorkers(chosen, cores);
  }

  if (visible.length > 0) {
    if (spec === "auto") return gpuWorkers(visible, cores);
    if (spec > visible.length) {
      throw new UsageError(`${what}: only ${visible.length} GPU${visible.length === 1 ? " is" : "s are"} visible here (${visibleIds}); use ${suggest(visible.length, source)} or fewer`);
    }
    return gpuWorkers(visible.slice(0, spec), cores);
  }

  const n = spec === "auto" ? 1 : spec;
  if (n > cores) {
    throw new UsageError(`${what}: only ${cores} CPU core${cores === 1 ? "" : "s"} here and no GPU${provider === "cuda" ? "" : " in use (onnxruntime runs on the CPU)"}; each CPU worker needs a core, so use ${suggest(cores, source)} or fewer`);
  }
  return { kind: "cpu", workers: cpuWorkers(n, cores) };
}
