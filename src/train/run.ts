/**
 * `diffx train` as a library function: create (or resume) the run folder, take its lock, pick
 * the backend, open the dataset, build (or load) the tokenizer, run the loop on one or more
 * workers, and finish with the loss plot, a sample grid and the manifest of output hashes.
 */
import * as fs from "node:fs";
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
import { createRunDir, requireRunDir, RUN_FILES } from "../runs/folder.js";
import { lockRun } from "../runs/lock.js";
import { newManifest, readManifest, writeManifest, hashOutputs, recordCheckpoint, type RunManifest } from "../runs/manifest.js";
import { libraryVersions } from "../runs/verify-lock.js";
import { lineChartSvg } from "../report/line-chart.js";
import { generate } from "../sample/generate.js";
import { tfjsNetwork } from "../sample/tfjs-network.js";
import type { Condition } from "../sample/conditions.js";
import { latestCheckpoint, latestWeights } from "./checkpoint.js";
import { runWorkers } from "./run-workers.js";
import { parseDevicesSpec, resolveDevices, type DevicePlan, type DevicesSpec } from "./parallel/devices.js";
import { trainLoop, readMetrics, singleWorker } from "./trainer.js";
import { loadTrainingSet } from "./load-training-set.js";
import { subset, type TrainingSet } from "./training-set.js";

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
  /** `--devices` override (not part of the config: results do not depend on it). */
  devices?: string;
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

/** Create a new run folder for a config, or open one to resume; returns its resolved config. */
function openRun(o: TrainRunOptions): { runDir: string; config: Config; hash: string; manifest: RunManifest | null } {
  if (o.resume) {
    const runDir = requireRunDir(o.resume);
    const { config, hash } = loadConfig(path.join(runDir, RUN_FILES.config));
    const manifest = readManifest(runDir);
    if (manifest.config_hash !== hash) {
      throw new UsageError(`${path.join(runDir, RUN_FILES.config)} was edited after the run started (config hash ${hash.slice(0, 12)}… ≠ recorded ${manifest.config_hash.slice(0, 12)}…); start a new run with 'diffx train CONFIG' instead`);
    }
    if (manifest.status === "finished" && (manifest.step ?? 0) >= config.train.steps) {
      throw new UsageError(`${runDir}: the run already finished (${config.train.steps} steps); nothing to resume`);
    }
    return { runDir, config, hash, manifest };
  }
  if (!o.configFile) throw new UsageError("give a CONFIG file, or --resume RUN");
  const { config, hash } = loadConfig(o.configFile, o.sets ?? []);
  const runDir = createRunDir(o.runsRoot ?? "runs", config.name, o.runDir);
  writeFileAtomic(path.join(runDir, RUN_FILES.config), stringify(config));
  return { runDir, config, hash, manifest: null };
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

/**
 * Open the dataset, fix the run's split (split.json, written once) and tokenizer
 * (tokenizer.json, built from the training captions once); reused as recorded on resume and
 * by every worker of a data-parallel run.
 */
export async function prepareTrainingData(runDir: string, config: Config, opts: { cwd?: string; trainRows?: number[]; heldOutRows?: number[]; progress?: ProgressSink; verify?: boolean }): Promise<PreparedData> {
  const ds = openDataset(config.dataset, { cwd: opts.cwd, progress: opts.progress, verify: opts.verify });
  const R = config.model.resolution;
  const all = await loadTrainingSet(ds, R);
  const splitFile = path.join(runDir, SPLIT_FILE);
  let split: Split;
  if (fs.existsSync(splitFile)) split = JSON.parse(fs.readFileSync(splitFile, "utf8")) as Split;
  else {
    split = { train: opts.trainRows ?? all.ids.map((_, i) => i), held_out: opts.heldOutRows ?? [] };
    writeJsonAtomic(splitFile, split);
  }
  const data = subset(all, split.train, R);
  const heldOut: TrainingSet | undefined = split.held_out.length ? subset(all, split.held_out, R) : undefined;
  if (config.train.batch_size > data.n * 64) throw new UsageError(`train.batch_size ${config.train.batch_size} is far larger than the ${data.n} training pairs`);
  let tokenizer: Tokenizer | null = null;
  const tokFile = path.join(runDir, TOKENIZER_FILE);
  if (config.model.conditioning === "text") {
    if (fs.existsSync(tokFile)) tokenizer = Tokenizer.fromJSON(JSON.parse(fs.readFileSync(tokFile, "utf8")), tokFile);
    else {
      tokenizer = Tokenizer.build(data.captions.flat());
      writeJsonAtomic(tokFile, tokenizer.toJSON());
    }
  }
  return { ds, data, heldOut, tokenizer };
}

/** The backend a multi-worker run would use, without starting it in this (the parent) process. */
async function backendName(requested: "auto" | BackendName): Promise<BackendName> {
  if (requested !== "auto") return requested;
  const usable = (await probeBackends()).find((b) => b.usable);
  return usable ? usable.name : "cpu";
}

export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  const { runDir, config, hash, manifest: old } = openRun(o);
  const release = lockRun(runDir);
  try {
    const requested = o.backend ?? config.engine.backend;
    const spec: DevicesSpec = o.devices !== undefined ? parseDevicesSpec(o.devices) : config.train.devices;
    const plan: DevicePlan | null = spec === 1 ? null : resolveDevices(spec, await backendName(requested));
    const parallel = plan !== null && plan.workers.length > 1;
    if (parallel && config.train.batch_size % plan.workers.length !== 0) {
      throw new UsageError(`train.batch_size ${config.train.batch_size} does not split into ${plan.workers.length} equal shards (one per device); choose a multiple of ${plan.workers.length}`);
    }
    // the parent of a multi-worker run does no tensor work: it only needs to know the backend
    const threads = plan && !parallel ? plan.workers[0].threads : config.engine.threads;
    let backend: BackendReport = parallel
      ? { name: await backendName(requested), package: "", version: "", threads: plan.workers[0].threads, skipped: [], warnings: [] } // filled in from rank 0's report
      : await initBackend(requested, { threads });
    for (const w of backend.warnings) o.progress.warn(w);
    if (backend.name === "cpu") o.progress.warn("training on the pure-JS cpu backend is very slow; the wasm backend is ~100× faster");

    const prepared = await prepareTrainingData(runDir, config, { cwd: o.cwd, trainRows: o.trainRows, heldOutRows: o.heldOutRows, progress: o.progress });
    const { ds, data, heldOut, tokenizer } = prepared;

    const manifest = old ?? newManifest("train", config.seed, hash, ds.hash);
    const workers = plan?.workers ?? [{ rank: 0, device: "cpu", env: {}, threads: backend.threads }];
    manifest.backend = { name: backend.name, version: backend.version, threads: backend.threads, skipped: backend.skipped, devices: workers.map((w) => (w.device === "cpu" ? "cpu" : `gpu:${w.device}`)), workers: workers.length };
    Object.assign(manifest.backend, { package: backend.package, simd: backend.simd, kernels: backend.kernels, libraries: libraryVersions(backend.name, backend.package, backend.version) });
    manifest.dataset_files = ds.manifest.files;
    manifest.status = "running";
    writeManifest(runDir, manifest);
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
          resumeFrom: o.resume ? latestCheckpoint(runDir) : null,
          reducer: singleWorker,
          progress: o.progress,
          signal: o.signal,
          stopAt: o.stopAt,
          onCheckpoint,
        });
      }
    } catch (err) {
      manifest.status = "failed";
      hashOutputs(runDir, manifest);
      writeManifest(runDir, manifest);
      throw err;
    }
    manifest.step = result.step;
    const done = !result.interrupted && result.step >= config.train.steps;
    if (done && o.finish !== false) {
      if (parallel) await initBackend(requested, { threads: config.engine.threads }); // the plots and grid run here, after the workers
      await finishRun(runDir, config, latestWeights(runDir, true).params, tokenizer, data, o.progress);
    }
    manifest.status = done ? "finished" : "interrupted";
    manifest.finished = new Date().toISOString();
    hashOutputs(runDir, manifest);
    writeManifest(runDir, manifest);
    return { runDir, step: result.step, interrupted: result.interrupted, backend, config };
  } finally {
    release();
  }
}

/** plots/loss.svg (+ .png) and samples/grid.png from the EMA weights. */
async function finishRun(runDir: string, config: Config, ema: ParamMap, tokenizer: Tokenizer | null, data: TrainingSet, progress: ProgressSink): Promise<void> {
  const metrics = readMetrics(runDir);
  const svg = lineChartSvg(
    [
      { name: "loss", points: metrics.map((m) => [m.step, m.loss]) },
      { name: "KL L_t (bits/dim)", points: metrics.filter((m) => m.kl_bpd !== undefined).map((m) => [m.step, m.kl_bpd as number]) },
    ],
    { title: `${config.name}: training loss and VLB term`, xLabel: "step", yLabel: "value", logY: true },
  );
  writeFileAtomic(path.join(runDir, "plots", "loss.svg"), svg);
  try {
    writeFileAtomic(path.join(runDir, "plots", "loss.png"), await sharp(Buffer.from(svg)).png().toBuffer());
  } catch (err) {
    progress.warn(`could not render plots/loss.png (${(err as Error).message}); plots/loss.svg is written`);
  }
  await writeSampleGrid(path.join(runDir, "samples", "grid.png"), config, ema, tokenizer, data);
}

/**
 * The end-of-training sample grid (`samples/grid.png`): `train.sample_grid` images from the EMA
 * weights with DDIM, conditioned on the first training pairs. Exported for `diffx verify`, which
 * regenerates it from the final checkpoint. Writes nothing when `train.sample_grid` is 0.
 */
export async function writeSampleGrid(file: string, config: Config, ema: ParamMap, tokenizer: Tokenizer | null, data: TrainingSet): Promise<void> {
  const k = Math.min(config.train.sample_grid, Math.max(1, data.n));
  if (config.train.sample_grid === 0) return;
  const R = config.model.resolution;
  const conditions: Condition[] = Array.from({ length: k }, (_, i) => {
    const row = i % data.n;
    if (config.model.conditioning === "text") return { prompt: data.captions[row][0] };
    if (config.model.conditioning === "sketch" && data.sketches) return { sketch: data.sketches.slice(row * R * R, (row + 1) * R * R), sketchSource: data.ids[row] };
    return {};
  });
  const session = tfjsNetwork(config.model, ema);
  try {
    const images = await generate({
      session,
      model: config.model,
      schedule: makeSchedule(config.diffusion),
      prediction: config.diffusion.prediction,
      sampler: { name: "ddim", steps: Math.min(config.sample.steps, 20), eta: 0, clipX0: config.sample.clip_x0 || undefined },
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
