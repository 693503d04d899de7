/**
 * `diffx train` as a library function: create (or resume) the run folder, take its lock, pick
 * the backend, open the dataset, build (or load) the tokenizer, run the loop on one or more
 * workers, and finish with the loss plot, a sample grid and the manifest of output hashes.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import sharp from "sharp";
import type { Config } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import { UsageError, RuntimeFailure } from "../errors.js";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import { initBackend, probeBackends, type BackendName, type BackendReport } from "../engine/backend.js";
import { makeGrid, writePng } from "../engine/image.js";
import type { ProgressSink } from "../engine/progress.js";
import { openDataset } from "../data/build.js";
import type { Dataset } from "../data/dataset.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { Tokenizer } from "../model/tokenizer.js";
import type { ParamMap } from "../model/params.js";
import { checkRunDirFree, createRunDir, requireRunDir, RUN_FILES } from "../runs/folder.js";
import { lockRun } from "../runs/lock.js";
import { newManifest, readManifest, writeManifest, hashOutputs, recordCheckpoint, type BackendRecord, type RunManifest } from "../runs/manifest.js";
import { libraryVersions } from "../runs/verify-lock.js";
import { lineChartSvg } from "../report/line-chart.js";
import { generate } from "../sample/generate.js";
import { tfjsNetwork } from "../sample/tfjs-network.js";
import type { Condition } from "../sample/conditions.js";
import { latestCheckpoint } from "./checkpoint.js";
import { networkWeights, parameterCounts } from "./adapter.js";
import type { LoraPlan } from "../nn/lora.js";
import { runWorkers } from "./run-workers.js";
import { describeSpec, listGpus, parseDevicesSpec, resolveDevices, type DevicePlan, type DevicesSource, type DevicesSpec } from "./parallel/devices.js";
import { trainLoop, readMetrics, singleWorker, chooseGradientEngine } from "./trainer.js";
import { onnxThreadsPerWorker } from "./onnx-gradients.js";
import { chooseDevice, deviceRecord, onnxDevice, type DeviceChoice, type DeviceRequest } from "../export/cuda-provider.js";
import { loadTrainingSet } from "./load-training-set.js";
import { checkInitCompatible, initTokenizer, loadInitSource } from "./init.js";
import { checkResumable } from "./resume-check.js";
import { tfjsWasmHeapRefusal } from "./wasm-heap.js";
import { subset, type TrainingSet } from "./training-set.js";
import { perceptualTimesteps } from "./perceptual.js";

export interface TrainRunOptions {
  /** A config file (new run) … */
  configFile?: string;
  sets?: string[];
  /** … or an existing run to continue. */
  resume?: string;
  runDir?: string;
  runsRoot?: string;
  /** Dataset folders are resolved against this (default: cwd). */
  cwd?: string;
  backend?: "tensorflow" | "wasm" | "cpu";
  /** `--threads` override of engine.threads (not part of the config: results do not depend on it). */
  threads?: number;
  /** `--devices` override (not part of the config: results do not depend on it). */
  devices?: string;
  /** `--device` override of engine.device. */
  device?: DeviceRequest;
  progress: ProgressSink;
  signal?: AbortSignal;
  /** Stop after this many steps (verify --steps K). */
  stopAt?: number;
  /** Rows of the dataset to train on (eval folds); all pairs when absent. */
  trainRows?: number[];
  /** Rows held out (eval folds): used for the VLB batch. */
  heldOutRows?: number[];
  /** Write the end-of-training plots and sample grid (default true). */
  finish?: boolean;
  /** A new pretraining run's `--out`: recorded in its manifest (base_out) so `--resume` writes the base there too. */
  baseOut?: string;
}

export interface TrainRunResult {
  runDir: string;
  step: number;
  interrupted: boolean;
  backend: BackendReport;
  config: Config;
}

export const SPLIT_FILE = RUN_FILES.split;
export const TOKENIZER_FILE = RUN_FILES.tokenizer;

interface Split {
  train: number[];
  held_out: number[];
}

/** A run as the options name it, before anything is written. */
interface OpenedRun {
  config: Config;
  hash: string;
  /** The config file, for messages. */
  configFile: string;
  /** Where a config key was set (file:line or the --set), for messages. */
  where: (key: string) => string;
  /** The run folder to resume (exists), or the folder a new run will be created in (may exist, e.g. prepared by eval), or null for runs/<name>-<time>. */
  runDir: string | null;
  manifest: RunManifest | null;
}

/** The run to resume: its folder, recorded config and manifest (nothing is written). */
function openResume(resume: string): OpenedRun {
  const runDir = requireRunDir(resume);
  const configFile = path.join(runDir, RUN_FILES.config);
  const { config, hash, where } = loadConfig(configFile);
  const manifest = readManifest(runDir);
  if (manifest.config_hash !== hash) {
    throw new UsageError(`${configFile} was edited after the run started (config hash ${hash.slice(0, 12)}… ≠ recorded ${manifest.config_hash.slice(0, 12)}…); start a new run with 'diffx train CONFIG' instead`);
  }
  if (manifest.status === "finished" && (manifest.step ?? 0) >= config.train.steps) {
    throw new UsageError(`${runDir}: the run already finished (${config.train.steps} steps); nothing to resume`);
  }
  return { config, hash, configFile, where, runDir, manifest };
}

/** A new run's config and target folder, checked (the folder is not created yet). */
function openNew(o: TrainRunOptions): OpenedRun {
  if (!o.configFile) throw new UsageError("give a CONFIG file, or --resume RUN");
  const { config, hash, file, where } = loadConfig(o.configFile, o.sets ?? []);
  const runDir = o.runDir ? path.resolve(o.runDir) : null;
  if (runDir) checkRunDirFree(runDir);
  const source = loadInitSource(config.train.init);
  if (source) checkInitCompatible(config, source, file);
  return { config, hash, configFile: file, where, runDir, manifest: null };
}

/** Captions of every pair: [English, Chinese] where present. */
export function pairCaptions(ds: Dataset): string[][] {
  return ds.pairs.map((p) => [p.caption, p.caption_zh].filter((c): c is string => typeof c === "string" && c.length > 0));
}

/** What every worker (and the single-process path) trains on, read from the run folder. */
export interface PreparedData {
  ds: Dataset;
  data: TrainingSet;
  heldOut: TrainingSet | undefined;
  tokenizer: Tokenizer | null;
}

/** split.json / tokenizer.json that a new run still has to write. */
interface PendingFiles {
  split?: Split;
  tokenizer?: unknown;
}

/** A JSON file of the run folder; a damaged one is a RuntimeFailure naming it. */
function readRunJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new RuntimeFailure(`${file}: unreadable (${(err as Error).message.split("\n")[0]}); the run folder is damaged`);
  }
}

function readSplit(file: string, n: number): Split {
  const raw = readRunJson(file) as Partial<Split>;
  const rows = (v: unknown): v is number[] => Array.isArray(v) && v.every((r) => Number.isInteger(r) && r >= 0 && r < n);
  if (!raw || !rows(raw.train) || !rows(raw.held_out) || raw.train.length === 0) {
    throw new RuntimeFailure(`${file}: not a split of this dataset's ${n} pairs (expected {"train": [...], "held_out": [...]} with rows 0..${n - 1})`);
  }
  return { train: raw.train, held_out: raw.held_out };
}

/** Largest accepted train.batch_size as a multiple of the training pairs (a batch wraps into the next epochs). */
const MAX_BATCH_EPOCHS = 64;

/**
 * Open the dataset and work out the run's split and tokenizer without writing anything:
 * as recorded in `runDir` (resume, workers, a folder prepared by eval), else from the options.
 */
async function readTrainingData(runDir: string | null, config: Config, opts: { cwd?: string; trainRows?: number[]; heldOutRows?: number[]; progress?: ProgressSink; verify?: boolean; configFile?: string }): Promise<PreparedData & { pending: PendingFiles }> {
  const ds = openDataset(config.dataset, { cwd: opts.cwd, progress: opts.progress, verify: opts.verify });
  const R = config.model.resolution;
  const all = await loadTrainingSet(ds, R);
  const pending: PendingFiles = {};
  const splitFile = runDir ? path.join(runDir, SPLIT_FILE) : null;
  let split: Split;
  if (splitFile && fs.existsSync(splitFile)) split = readSplit(splitFile, all.n);
  else {
    split = { train: opts.trainRows ?? all.ids.map((_, i) => i), held_out: opts.heldOutRows ?? [] };
    pending.split = split;
  }
  const data = subset(all, split.train, R);
  const heldOut: TrainingSet | undefined = split.held_out.length ? subset(all, split.held_out, R) : undefined;
  const B = config.train.batch_size;
  const where = opts.configFile ? `${opts.configFile}: ` : "";
  if (B > data.n * MAX_BATCH_EPOCHS) {
    throw new UsageError(`${where}train.batch_size ${B} is more than ${MAX_BATCH_EPOCHS}× the ${data.n} training pairs of ${ds.dir}; use at most ${data.n * MAX_BATCH_EPOCHS} (a batch larger than the data repeats pairs)`);
  }
  if (B > data.n) opts.progress?.warn(`train.batch_size ${B} is larger than the ${data.n} training pairs: every batch repeats pairs (batches run on into the next epoch)`);
  let tokenizer: Tokenizer | null = null;
  const tokFile = runDir ? path.join(runDir, TOKENIZER_FILE) : null;
  if (config.model.conditioning === "text") {
    if (tokFile && fs.existsSync(tokFile)) tokenizer = Tokenizer.fromJSON(readRunJson(tokFile), tokFile);
    else {
      // fine-tuning keeps the source's vocabulary and appends the new words (init.ts)
      const source = loadInitSource(config.train.init);
      tokenizer = source ? initTokenizer(source, data.captions.flat()).tokenizer : Tokenizer.build(data.captions.flat());
      pending.tokenizer = tokenizer.toJSON();
    }
  }
  return { ds, data, heldOut, tokenizer, pending };
}

function writePendingFiles(runDir: string, pending: PendingFiles): void {
  if (pending.split) writeJsonAtomic(path.join(runDir, SPLIT_FILE), pending.split);
  if (pending.tokenizer !== undefined) writeJsonAtomic(path.join(runDir, TOKENIZER_FILE), pending.tokenizer);
}

/**
 * Open the dataset, fix the run's split (split.json, written once) and tokenizer
 * (tokenizer.json, built from the training captions once); reused as recorded on resume and
 * by every worker of a data-parallel run.
 */
export async function prepareTrainingData(runDir: string, config: Config, opts: { cwd?: string; trainRows?: number[]; heldOutRows?: number[]; progress?: ProgressSink; verify?: boolean }): Promise<PreparedData> {
  const { pending, ...prepared } = await readTrainingData(runDir, config, opts);
  writePendingFiles(runDir, pending);
  return prepared;
}

/**
 * Create the new run's folder (locked) and its first files. If that fails (a full disk…), what
 * was created is removed again, so a failed start leaves nothing behind.
 */
function createRun(o: TrainRunOptions, opened: OpenedRun, pending: PendingFiles, manifest: RunManifest): { runDir: string; release: () => void } {
  const existed = opened.runDir !== null && fs.existsSync(opened.runDir);
  const runDir = createRunDir(o.runsRoot ?? "runs", opened.config.name, opened.runDir ?? undefined);
  let release: (() => void) | null = null;
  const written: string[] = [];
  try {
    release = lockRun(runDir);
    const write = (rel: string, fn: (file: string) => void): void => {
      const file = path.join(runDir, rel);
      if (fs.existsSync(file)) return;
      written.push(file);
      fn(file);
    };
    write(RUN_FILES.config, (f) => writeFileAtomic(f, stringify(opened.config)));
    if (pending.split) write(SPLIT_FILE, (f) => writeJsonAtomic(f, pending.split));
    if (pending.tokenizer !== undefined) write(TOKENIZER_FILE, (f) => writeJsonAtomic(f, pending.tokenizer));
    write(RUN_FILES.manifest, () => writeManifest(runDir, manifest));
    return { runDir, release };
  } catch (err) {
    if (release) {
      if (existed) for (const f of written) fs.rmSync(f, { force: true });
      else fs.rmSync(runDir, { recursive: true, force: true });
      release();
    }
    throw err;
  }
}

/** "cpu: AMD EPYC 7763" / "gpu:3: NVIDIA H100 80GB HBM3", one per worker, for the run lock. */
function deviceNames(workers: readonly { device: string }[]): string[] {
  const gpus = workers.some((w) => w.device !== "cpu") ? listGpus() : [];
  return workers.map((w) => (w.device === "cpu" ? `cpu: ${os.cpus()[0]?.model ?? "unknown"}` : `gpu:${w.device}: ${gpus.find((g) => g.id === w.device)?.name ?? "unknown"}`));
}

/** The devices for `spec` on the chosen device (devices.ts), or null for `1`: this process alone. */
function devicePlan(spec: DevicesSpec, device: DeviceChoice, source: DevicesSource): DevicePlan | null {
  if (spec === 1) return null;
  const plan = resolveDevices(spec, device.provider, undefined, undefined, source);
  if (device.provider === "cuda" && plan.kind === "cpu" && plan.workers.length > 1) {
    throw new UsageError(`${describeSpec(spec, source)} on CUDA needs nvidia-smi to give each worker its own GPU, and it lists none here; use --devices 1 (one process on the first GPU) or engine.device: cpu`);
  }
  return plan;
}

/** The backend a multi-worker run would use, without starting it in this (the parent) process. */
async function backendName(requested: "auto" | BackendName): Promise<BackendName> {
  if (requested !== "auto") return requested;
  const usable = (await probeBackends()).find((b) => b.usable);
  return usable ? usable.name : "cpu";
}

export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  // Everything that can be refused is checked before the first write: a refused or failed
  // start leaves no run folder behind (and a resumed run's folder untouched).
  const opened = o.resume ? openResume(o.resume) : openNew(o);
  const { config, hash } = opened;
  // a resumed run is locked at once, so a second writer is refused before it does any work
  let release: (() => void) | null = o.resume && opened.runDir ? lockRun(opened.runDir) : null;
  try {
    if (o.resume && opened.runDir) checkResumable(opened.runDir, config); // under the lock: no writer changes the files meanwhile
    const requested = o.backend ?? config.engine.backend;
    // engine.device: where onnxruntime computes (CUDA or CPU); `cuda` that cannot work here stops here
    const device = chooseDevice(o.device ?? config.engine.device, { source: o.device !== undefined ? "--device" : "engine.device" });
    const spec: DevicesSpec = o.devices !== undefined ? parseDevicesSpec(o.devices) : config.train.devices;
    const devicesSource: DevicesSource = o.devices !== undefined ? { kind: "flag" } : { kind: "config", where: opened.where("train.devices") };
    const plan = devicePlan(spec, device, devicesSource);
    // worker processes for several devices, and for a GPU even alone: CUDA_VISIBLE_DEVICES then
    // shows it its GPU (devices.ts); one CPU worker runs in this process
    const parallel = plan !== null && (plan.workers.length > 1 || plan.kind === "gpu");
    if (parallel && config.train.batch_size % plan.workers.length !== 0) {
      throw new UsageError(`${opened.configFile}: train.batch_size ${config.train.batch_size} does not split into ${plan.workers.length} equal shards (one per device); choose a multiple of ${plan.workers.length}`);
    }
    // the parent of a multi-worker run does no tensor work: it only needs to know the backend
    const threads = o.threads ?? (plan && !parallel ? plan.workers[0].threads : config.engine.threads);
    let backend: BackendReport = parallel
      ? { name: await backendName(requested), package: "", version: "", threads: plan.workers[0].threads, skipped: [], warnings: [] } // filled in from rank 0's report
      : await initBackend(requested, { threads });
    for (const w of backend.warnings) o.progress.warn(w);
    if (backend.name === "cpu") o.progress.warn("training on the pure-JS cpu backend is very slow; the wasm backend is ~100× faster");

    // before any data is read or built: the text embedding (vocabulary × text_dim, a few MB) is
    // left out of the estimate, the tokenizer comes from that data
    if (backend.name === "wasm" && chooseGradientEngine(config.engine.gradients, device.provider).engine === "tfjs") {
      const shard = config.train.batch_size / (plan?.workers.length ?? 1);
      const refusal = tfjsWasmHeapRefusal(config, shard, 1, opened.where("engine.gradients"));
      if (refusal !== null) throw new UsageError(refusal);
    }
    const existingDir = opened.runDir !== null && fs.existsSync(opened.runDir) ? opened.runDir : null;
    const { pending, ...prepared } = await readTrainingData(existingDir, config, { cwd: o.cwd, trainRows: o.trainRows, heldOutRows: o.heldOutRows, progress: o.progress, configFile: opened.configFile });
    const { ds, data, heldOut, tokenizer } = prepared;

    const manifest = opened.manifest ?? newManifest("train", config.seed, hash, ds.hash);
    if (!opened.manifest) {
      const source = loadInitSource(config.train.init);
      if (source) manifest.init = { spec: config.train.init, source: source.label, sha256: source.sha256, added_words: tokenizer && source.tokenizer ? tokenizer.vocab.slice(source.tokenizer.size) : [] };
      manifest.parameters = parameterCounts(config, tokenizer?.size ?? 0);
      if (o.baseOut !== undefined) manifest.base_out = o.baseOut;
    }
    const workers = plan?.workers ?? [{ rank: 0, device: device.provider === "cuda" ? (listGpus()[0]?.id ?? "0") : "cpu", env: {}, threads: backend.threads }];
    manifest.backend = { name: backend.name, version: backend.version, threads: backend.threads, skipped: backend.skipped, devices: deviceNames(workers), workers: workers.length, device: deviceRecord(device) };
    if (backend.threadsNote !== undefined) manifest.backend.threads_note = backend.threadsNote;
    Object.assign(manifest.backend, { package: backend.package, simd: backend.simd, kernels: backend.kernels, libraries: libraryVersions(backend.name, backend.package, backend.version) });
    // the engine of loss + gradients (engine.gradients), chosen from the backend by the same rule the loop applies
    const gradientsRecord = (): NonNullable<BackendRecord["gradients"]> => {
      const g = chooseGradientEngine(config.engine.gradients, device.provider);
      const perWorker = workers.length > 1 ? workers[0].threads : typeof threads === "number" ? threads : onnxThreadsPerWorker(1);
      return g.engine === "onnx" ? { ...g, threads: perWorker } : g;
    };
    manifest.backend.gradients = gradientsRecord();
    manifest.dataset_files = ds.manifest.files;
    manifest.status = "running";
    // a damaged checkpoint is reported before the manifest is touched
    const resumeFrom = o.resume && opened.runDir && !parallel ? latestCheckpoint(opened.runDir) : null;
    let runDir: string;
    if (o.resume && opened.runDir) {
      runDir = opened.runDir;
      writePendingFiles(runDir, pending);
      writeManifest(runDir, manifest);
    } else {
      const created = createRun(o, opened, pending, manifest);
      runDir = created.runDir;
      release = created.release;
    }
    const onCheckpoint = (step: number): void => {
      manifest.step = step;
      recordCheckpoint(runDir, manifest, step);
      hashOutputs(runDir, manifest);
      writeManifest(runDir, manifest);
    };

    let result: { step: number; interrupted: boolean };
    try {
      if (parallel) {
        result = await runWorkers({
          runDir,
          cwd: o.cwd,
          backend: backend.name,
          device: device.provider,
          workers: plan.workers,
          resume: Boolean(o.resume),
          stopAt: o.stopAt,
          steps: config.train.steps,
          progress: o.progress,
          signal: o.signal,
          onCheckpoint,
          onBackend: (report) => {
            backend = report;
            Object.assign(manifest.backend ?? {}, { version: report.version, package: report.package, simd: report.simd, kernels: report.kernels, skipped: report.skipped, threads: report.threads, libraries: libraryVersions(report.name, report.package, report.version) });
            if (report.threadsNote !== undefined && manifest.backend) manifest.backend.threads_note = report.threadsNote;
            writeManifest(runDir, manifest);
          },
        });
      } else {
        result = await trainLoop({
          runDir,
          config,
          data,
          heldOut,
          tokenizer,
          resumeFrom,
          reducer: singleWorker,
          progress: o.progress,
          signal: o.signal,
          stopAt: o.stopAt,
          onCheckpoint,
          threads: typeof threads === "number" ? threads : undefined,
          device: onnxDevice(device.provider),
        });
      }
      manifest.step = result.step;
      const done = !result.interrupted && result.step >= config.train.steps;
      if (done && o.finish !== false) {
        if (parallel) await initBackend(requested, { threads: config.engine.threads }); // the plots and grid run here, after the workers
        const weights = networkWeights(runDir, config, tokenizer?.size ?? 0, true); // a LoRA run: the adapter on its base
        await finishRun(runDir, config, weights.params, weights.lora, tokenizer, data, o.progress);
      }
      manifest.status = done ? "finished" : "interrupted";
      manifest.finished = new Date().toISOString();
      hashOutputs(runDir, manifest);
      writeManifest(runDir, manifest);
    } catch (err) {
      manifest.status = "failed";
      try {
        hashOutputs(runDir, manifest);
        writeManifest(runDir, manifest);
      } catch {
        // (a full disk can refuse this too) the manifest keeps its last good state; the first error is the one to report
      }
      throw err;
    }
    return { runDir, step: result.step, interrupted: result.interrupted, backend, config };
  } finally {
    release?.();
  }
}

/** plots/loss.svg (+ .png: loss, KL term and perceptual loss) and samples/grid.png from the EMA weights. */
async function finishRun(runDir: string, config: Config, ema: ParamMap, lora: LoraPlan | null, tokenizer: Tokenizer | null, data: TrainingSet, progress: ProgressSink): Promise<void> {
  const metrics = readMetrics(runDir);
  const svg = lineChartSvg(
    [
      { name: "loss", points: metrics.map((m) => [m.step, m.loss]) },
      { name: "KL L_t (bits/dim)", points: metrics.filter((m) => m.kl_bpd !== undefined).map((m) => [m.step, m.kl_bpd as number]) },
      { name: `perceptual (domain features, x̂₀ vs x₀ at t = ${perceptualTimesteps(config.diffusion.timesteps).join(", ")})`, points: metrics.filter((m) => m.perceptual !== undefined).map((m) => [m.step, m.perceptual as number]) },
    ],
    { title: `${config.name}: training loss, VLB term and perceptual loss`, xLabel: "step", yLabel: "value", logY: true },
  );
  writeFileAtomic(path.join(runDir, "plots", "loss.svg"), svg);
  try {
    writeFileAtomic(path.join(runDir, "plots", "loss.png"), await sharp(Buffer.from(svg)).png().toBuffer());
  } catch (err) {
    progress.warn(`could not render plots/loss.png (${(err as Error).message}); plots/loss.svg is written`);
  }
  await writeSampleGrid(path.join(runDir, "samples", "grid.png"), config, ema, tokenizer, data, lora);
}

/**
 * The end-of-training sample grid (`samples/grid.png`): `train.sample_grid` images from the EMA
 * weights with the config's sampler (at most 25 steps), conditioned on the first training pairs. Exported for `diffx verify`, which
 * regenerates it from the final checkpoint. Writes nothing when `train.sample_grid` is 0.
 */
export async function writeSampleGrid(file: string, config: Config, ema: ParamMap, tokenizer: Tokenizer | null, data: TrainingSet, lora: LoraPlan | null = null): Promise<void> {
  const k = Math.min(config.train.sample_grid, Math.max(1, data.n));
  if (config.train.sample_grid === 0) return;
  const R = config.model.resolution;
  const conditions: Condition[] = Array.from({ length: k }, (_, i) => {
    const row = i % data.n;
    if (config.model.conditioning === "text") return { prompt: data.captions[row][0] };
    if (config.model.conditioning === "sketch" && data.sketches) return { sketch: data.sketches.slice(row * R * R, (row + 1) * R * R), sketchSource: data.ids[row] };
    return {};
  });
  const session = tfjsNetwork(config.model, ema, lora);
  try {
    const images = await generate({
      session,
      model: config.model,
      schedule: makeSchedule(config.diffusion),
      prediction: config.diffusion.prediction,
      // the config's sampler (DDPM in the shipped configs: DDIM draws pixel noise from these models), at most 25 steps
      sampler: { name: config.sample.sampler, steps: Math.min(config.sample.steps, 25), eta: config.sample.eta, clipX0: config.sample.clip_x0 || undefined },
      guidance: config.sample.guidance,
      seed: config.seed,
      tokenizer,
      conditions,
      batchSize: config.sample.batch_size,
    });
    writePng(file, makeGrid(images, Math.min(8, images.length)));
  } finally {
    session.dispose();
  }
}

export { RuntimeFailure };
