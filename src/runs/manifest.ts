/**
 * The run manifest (`manifest.json`, format "diffx-run/1"): what produced the run (diffx
 * version, git commit, Node, backend, seeds, config and dataset hashes, lockfile hash) and the
 * sha256 of every output file, so `diffx verify` can re-run and compare.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { writeJsonAtomic } from "../engine/atomic.js";
import { sha256File } from "../engine/hash.js";
import { RuntimeFailure } from "../errors.js";
import { DIFFX_VERSION, PACKAGE_ROOT } from "./version.js";
import { RUN_FILES } from "./folder.js";

export const RUN_MANIFEST_FORMAT = "diffx-run/1";

/**
 * engine.device as resolved: where onnxruntime computed (gradients, onnx sampling), what was
 * asked for and why this; on CUDA the driver, CUDA runtime and cuDNN versions found and TF32.
 * The GPUs' names are in BackendRecord.devices.
 */
export type DeviceRecord =
  | { requested: string; provider: "cpu"; reason: string }
  | { requested: string; provider: "cuda"; reason: string; driver: string | null; cuda: string | null; cudnn: string | null; tf32: string | null };

export interface BackendRecord {
  name: string;
  version: string;
  threads: number;
  /** Why the backend runs on fewer threads than asked for (wasm: engine.threads auto on a busy machine, …). */
  threads_note?: string;
  skipped: { name: string; reason: string }[];
  devices: string[];
  workers: number;
  /** npm package providing the backend (e.g. "@tensorflow/tfjs-backend-wasm"). */
  package?: string;
  /** wasm: whether the SIMD build ran. */
  simd?: boolean;
  /** Kernels diffx registered for the backend (its own implementations replacing tfjs's). */
  kernels?: string[];
  /** Versions of the libraries the numbers and files come from (tfjs, libtensorflow, zlib, libvips). */
  libraries?: Record<string, string>;
  /** Training runs: which engine computed the loss and its gradients (engine.gradients), why, and its threads. */
  gradients?: { engine: "tfjs" | "onnx"; reason: string; threads?: number };
  /** Training and onnx sampling: engine.device as resolved. */
  device?: DeviceRecord;
}

export interface RunManifest {
  format: typeof RUN_MANIFEST_FORMAT;
  kind: "train" | "eval" | "sample";
  diffx_version: string;
  git_commit: string | null;
  lockfile_sha256: string | null;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  backend: BackendRecord | null;
  seed: number;
  config_hash: string;
  dataset_hash: string | null;
  /** sha256 of every file of the dataset, by path inside its folder (dataset_hash is computed from these). */
  dataset_files?: Record<string, string>;
  started: string;
  finished: string | null;
  /** "submitted": an eval whose jobs were handed to Slurm (see `diffx status`). */
  status: "running" | "submitted" | "finished" | "interrupted" | "failed";
  /** Training progress recorded at the last checkpoint. */
  step?: number;
  /** sha256 of every output file, by path relative to the run folder. */
  outputs: Record<string, string>;
  /**
   * sha256 of every checkpoint file ever written, by step (old checkpoints are pruned from disk
   * but their hashes stay here, so `diffx verify --steps K` can compare a re-run at step K).
   */
  checkpoints?: Record<string, Record<string, string>>;
  /** Pretraining runs started with `--out`: the base folder to write when the run finishes (absolute). */
  base_out?: string;
  /** Where a training's weights started (train.init other than scratch). */
  init?: { spec: string; source: string; sha256: string; added_words: string[] };
  /** Training runs: trainable and total parameters and their ratio (train.adapter: src/train/adapter.ts). */
  parameters?: { trainable: number; total: number; ratio: number; model: number; fraction_of_full: number; adapter: { kind: "lora"; rank: number; alpha: number; targets: string[]; layers: number } | null };
}

export function gitCommit(): string | null {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: PACKAGE_ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim() || null;
  } catch {
    return null;
  }
}

export function lockfileHash(): string | null {
  const lock = path.join(PACKAGE_ROOT, "package-lock.json");
  return fs.existsSync(lock) ? sha256File(lock) : null;
}

export function newManifest(kind: RunManifest["kind"], seed: number, configHash: string, datasetHash: string | null): RunManifest {
  return {
    format: RUN_MANIFEST_FORMAT,
    kind,
    diffx_version: DIFFX_VERSION,
    git_commit: gitCommit(),
    lockfile_sha256: lockfileHash(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.availableParallelism(),
    backend: null,
    seed,
    config_hash: configHash,
    dataset_hash: datasetHash,
    started: new Date().toISOString(),
    finished: null,
    status: "running",
    outputs: {},
  };
}

export function manifestPath(runDir: string): string {
  return path.join(runDir, RUN_FILES.manifest);
}

export function readManifest(runDir: string): RunManifest {
  const file = manifestPath(runDir);
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RuntimeFailure(code === "ENOENT" ? `${file}: missing run manifest (the run never got past its start; remove ${runDir} and start a new run)` : `${file}: unreadable run manifest (${(err as Error).message})`);
  }
  const m = data as Partial<RunManifest>;
  if (!m || m.format !== RUN_MANIFEST_FORMAT || typeof m.outputs !== "object") throw new RuntimeFailure(`${file}: not a ${RUN_MANIFEST_FORMAT} manifest`);
  return m as RunManifest;
}

export function writeManifest(runDir: string, m: RunManifest): void {
  writeJsonAtomic(manifestPath(runDir), m);
}

/** Temp files and folders of atomic writes (`.name.tmp-…`) and discarded checkpoints (`.trash-…`). */
function isScratch(name: string): boolean {
  return name.includes(".tmp-") || name.startsWith(".trash-");
}

/** Every file under the run folder (relative, sorted), except the manifest itself, the lock and temp files. */
export function listOutputs(runDir: string, under = ""): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(runDir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        // half-written or discarded folders (checkpoints/.step-N.tmp-PID, .trash-…) are not outputs
        if (!isScratch(e.name)) walk(r);
      } else if (e.isFile() && r !== RUN_FILES.manifest && r !== RUN_FILES.lock && !isScratch(e.name)) out.push(r);
    }
  };
  if (fs.existsSync(path.join(runDir, under))) walk(under);
  return out.sort();
}

/** Record the hashes of the files of checkpoint `step` (paths relative to the checkpoint folder). */
export function recordCheckpoint(runDir: string, m: RunManifest, step: number): void {
  const rel = `checkpoints/step-${step}`;
  const files: Record<string, string> = {};
  for (const f of listOutputs(runDir, rel)) files[f.slice(rel.length + 1)] = sha256File(path.join(runDir, f));
  m.checkpoints = { ...(m.checkpoints ?? {}), [String(step)]: files };
}

/** Recompute the sha256 of every output into the manifest. */
export function hashOutputs(runDir: string, m: RunManifest): void {
  const outputs: Record<string, string> = {};
  for (const rel of listOutputs(runDir)) outputs[rel] = sha256File(path.join(runDir, rel));
  m.outputs = outputs;
}
