/**
 * `diffx sample RUN` as a library function: generate N images from a trained run with any
 * sampler, on tfjs or onnxruntime-node, and write them with a record of how each was made.
 *
 * Output folder (default RUN/samples/<sampler>-<steps>-seed<seed>[-k]/, never overwritten):
 *   sample-0000.png …   one PNG per sample, named by its global sample index
 *   grid.png            the first 64 samples (GRID_MAX), up to 8 per row
 *   samples.jsonl       one record per sample (SampleRecord), with the call's NFE and measured seconds per image
 *   manifest.json       format diffx-run/1, kind "sample": engine, seed, hashes of the above
 * When the folder is inside the run, the run's manifest.json lists the new files too.
 *
 * Sample i's noise depends only on (seed, i) (see generate.ts), so the same sample comes out
 * whatever N or the batch size. Settings not given come from the run config's `sample` section.
 * Ctrl-C (the signal) stops after the current batch; what is finished is written and recorded.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../engine/atomic.js";
import type { BackendName } from "../engine/backend.js";
import { sha256File } from "../engine/hash.js";
import { makeGrid, writePng, type Image } from "../engine/image.js";
import { silentProgress, type ProgressSink } from "../engine/progress.js";
import { SAMPLER_NAMES, type SamplerName } from "../diffusion/samplers/types.js";
import { makeSchedule } from "../diffusion/schedule.js";
import { RUN_FILES } from "../runs/folder.js";
import { hashOutputs, newManifest, readManifest, writeManifest, type RunManifest } from "../runs/manifest.js";
import { deviceRecord, type DeviceRequest } from "../export/cuda-provider.js";
import { networkEvaluations, usesGuidance } from "../diffusion/samplers/nfe.js";
import { generate } from "./generate.js";
import { ENGINE_NAMES, openNetwork, type EngineInfo, type EngineName } from "./network.js";
import { checkOutDir, claimOutDir, type ClaimedOutDir } from "./out-dir.js";
import { recordRunOutputs, type RecordResult } from "./record-outputs.js";
import { badOption, openRun, type RunInfo } from "./run-model.js";
import { resolveConditions, type ResolvedConditions } from "./sample-conditions.js";
import { GRID_FILE, SAMPLES_FILE } from "./sample-folder.js";

export interface SampleRunOptions {
  run: string;
  /** Number of samples (default: one per prompt / sketch / dataset pair; 8 for unconditional models). */
  n?: number;
  prompts?: string[];
  sketches?: string[];
  /** Take the conditions from the run's held-out pairs (else its training pairs). */
  fromDataset?: boolean;
  sampler?: SamplerName;
  steps?: number;
  guidance?: number;
  eta?: number;
  seed?: number;
  ema?: boolean;
  engine?: EngineName;
  batchSize?: number;
  /** Output folder; default RUN/samples/<sampler>-<steps>-seed<seed>. */
  out?: string;
  /** tfjs backend (global --backend); default the run's engine.backend. */
  backend?: BackendName;
  /** onnx: `--device`; default the run's engine.device. */
  device?: DeviceRequest;
  /** Where dataset folders are looked for (default: the current directory). */
  cwd?: string;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

/** The settings a call ran with (given, else from the run config). */
export interface SampleSettings {
  sampler: SamplerName;
  steps: number;
  /** Classifier-free guidance scale; null for unconditional models (no guidance). */
  guidance: number | null;
  eta: number;
  /** x̂₀ clipping bound (sample.clip_x0); null when off. */
  clip_x0: number | null;
  seed: number;
  ema: boolean;
  engine: EngineName;
  batch_size: number;
}

/** One line of samples.jsonl. */
export interface SampleRecord {
  file: string;
  /** Global sample index i (its noise comes from (seed, i)). */
  index: number;
  seed: number;
  prompt?: string;
  sketch?: string;
  /** Dataset pair id (--from-dataset). */
  pair?: string;
  sampler: SamplerName;
  steps: number;
  guidance: number | null;
  eta: number;
  clip_x0: number | null;
  ema: boolean;
  checkpoint_step: number;
  engine: EngineName;
  /** tfjs backend or onnxruntime execution provider. */
  backend: string;
  sha256: string;
  /** Network evaluations per image (steps, doubled when guidance runs the unconditional pass). */
  nfe: number;
  /** This call's measured sampling wall time per image (the same on every line; varies with the machine). */
  seconds_per_image: number;
}

export interface SampleRunResult {
  runDir: string;
  outDir: string;
  /** N asked for, and how many were written (fewer when interrupted). */
  requested: number;
  written: number;
  interrupted: boolean;
  settings: SampleSettings;
  conditions: ResolvedConditions["source"];
  engine: EngineInfo;
  step: number;
  records: SampleRecord[];
  /** grid.png, or null when nothing was written. */
  grid: string | null;
  seconds: number;
  /** Wall time of the sampling loop alone (network calls and sampler steps; loading, PNG writing and hashing not counted) per written image. */
  seconds_per_image: number;
  /** Network evaluations per image. */
  nfe: number;
  /** Whether the run's manifest lists the new files (and why not). */
  runManifest: RecordResult;
}

export { SAMPLES_FILE, GRID_FILE };
/** Samples shown in grid.png (8 rows of 8): the only images kept in memory, so N is not bounded by them. */
export const GRID_MAX = 64;

/** The effective settings: options, else the run config's `sample` section; each checked. */
export function sampleSettings(info: RunInfo, o: SampleRunOptions): SampleSettings {
  const s = info.config.sample;
  const sampler = o.sampler ?? s.sampler;
  if (!SAMPLER_NAMES.includes(sampler)) throw badOption("--sampler", SAMPLER_NAMES.join(", "), sampler);
  const steps = o.steps ?? s.steps;
  const T = info.config.diffusion.timesteps;
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw badOption("--steps", `a whole number from 1 to ${T} (diffusion.timesteps)`, steps);
  const guidance = o.guidance ?? s.guidance;
  if (!Number.isFinite(guidance) || guidance < 0) throw badOption("--guidance", "a number ≥ 0", guidance);
  const eta = o.eta ?? s.eta;
  if (!Number.isFinite(eta) || eta < 0) throw badOption("--eta", "a number ≥ 0", eta);
  const seed = o.seed ?? info.config.seed;
  if (!Number.isSafeInteger(seed) || seed < 0) throw badOption("--seed", "a whole number ≥ 0", seed);
  const engine = o.engine ?? s.engine;
  if (!ENGINE_NAMES.includes(engine)) throw badOption("--engine", ENGINE_NAMES.join(" or "), engine);
  const batch = o.batchSize ?? s.batch_size;
  if (!Number.isInteger(batch) || batch < 1) throw badOption("--batch-size", "a whole number ≥ 1", batch);
  return {
    sampler,
    steps,
    guidance: info.config.model.conditioning === "none" ? null : guidance,
    eta,
    clip_x0: s.clip_x0 > 0 ? s.clip_x0 : null,
    seed,
    ema: o.ema ?? s.ema,
    engine,
    batch_size: batch,
  };
}

/** `sample-0000.png`: the global index, zero-padded to at least 4 digits. */
export function sampleFileName(index: number, n: number): string {
  return `sample-${String(index).padStart(Math.max(4, String(n - 1).length), "0")}.png`;
}

export async function sampleRun(o: SampleRunOptions): Promise<SampleRunResult> {
  const progress = o.progress ?? silentProgress;
  const info = openRun(o.run);
  const settings = sampleSettings(info, o);
  checkOutDir(o.out);
  const resolved = await resolveConditions(
    info,
    { n: o.n, prompts: o.prompts ?? [], sketches: o.sketches ?? [], fromDataset: o.fromDataset ?? false },
    { cwd: o.cwd, progress },
  );
  const { session, engine, step } = await openNetwork({ engine: settings.engine, run: info, ema: settings.ema, backend: o.backend, device: o.device, progress });
  if (engine.note) progress.info(engine.note);

  let claimed: ClaimedOutDir;
  try {
    claimed = claimOutDir(info.runDir, o.out, `${settings.sampler}-${settings.steps}-seed${settings.seed}`);
  } catch (err) {
    session.dispose();
    throw err;
  }
  const outDir = claimed.dir;
  const manifest = sampleManifest(info, settings, engine, step);
  const { n } = resolved;
  const model = info.config.model;
  const records: SampleRecord[] = [];
  const images: Image[] = [];
  const schedule = makeSchedule(info.config.diffusion);
  const nfe = networkEvaluations(settings, usesGuidance(model.conditioning, settings.guidance ?? 1));
  let sampling = 0; // seconds inside generate()
  const started = performance.now();
  progress.start("sampling", n * settings.steps);
  try {
    for (let b = 0; b < n && !o.signal?.aborted; b += settings.batch_size) {
      const batchStarted = performance.now();
      const batch = await generate({
        session,
        model,
        schedule,
        prediction: info.config.diffusion.prediction,
        sampler: { name: settings.sampler, steps: settings.steps, eta: settings.eta, clipX0: settings.clip_x0 ?? undefined },
        guidance: settings.guidance ?? 1,
        seed: settings.seed,
        tokenizer: info.tokenizer,
        conditions: resolved.conditions.slice(b, b + settings.batch_size),
        firstIndex: b,
        batchSize: settings.batch_size,
        progress: offsetProgress(progress, b * settings.steps),
      });
      sampling += (performance.now() - batchStarted) / 1000;
      batch.forEach((img, k) => {
        const index = b + k;
        const file = sampleFileName(index, n);
        writePng(path.join(outDir, file), img);
        records.push(sampleRecord(file, index, resolved.labels[index] ?? {}, settings, engine, step, sha256File(path.join(outDir, file)), nfe));
      });
      images.push(...batch.slice(0, Math.max(0, GRID_MAX - images.length))); // only the grid's images stay in memory
    }
  } catch (err) {
    progress.stop();
    session.dispose();
    try {
      finish(outDir, manifest, withTiming(records, sampling), images, "failed");
    } catch {
      // the original error is the one to report (e.g. a full disk fails both)
    }
    claimed.release();
    throw err;
  }
  progress.stop();
  session.dispose();
  const seconds = (performance.now() - started) / 1000;
  const interrupted = records.length < n;
  const timed = withTiming(records, sampling);
  let grid: string | null;
  try {
    grid = finish(outDir, manifest, timed, images, interrupted ? "interrupted" : "finished");
  } finally {
    claimed.release();
  }
  const runManifest = recordRunOutputs(info.runDir, [outDir]);
  return {
    runDir: info.runDir,
    outDir,
    requested: n,
    written: records.length,
    interrupted,
    settings,
    conditions: resolved.source,
    engine,
    step,
    records: timed,
    grid,
    seconds,
    seconds_per_image: timed.length ? sampling / timed.length : 0,
    nfe,
    runManifest,
  };
}

/** The records with the call's sampling seconds per image (`seconds` over all of them). */
function withTiming(records: SampleRecord[], seconds: number): SampleRecord[] {
  return records.map((r) => ({ ...r, seconds_per_image: seconds / records.length }));
}

/** Writes grid.png, samples.jsonl and the folder's manifest; returns the grid's path (null if no images). */
function finish(outDir: string, manifest: RunManifest, records: SampleRecord[], images: Image[], status: RunManifest["status"]): string | null {
  let grid: string | null = null;
  if (images.length > 0) {
    grid = path.join(outDir, GRID_FILE);
    writePng(grid, makeGrid(images, Math.min(8, images.length)));
  }
  writeFileAtomic(path.join(outDir, SAMPLES_FILE), records.map((r) => JSON.stringify(r)).join("\n") + (records.length ? "\n" : ""));
  manifest.status = status;
  manifest.finished = new Date().toISOString();
  hashOutputs(outDir, manifest);
  writeManifest(outDir, manifest);
  return grid;
}

function sampleManifest(info: RunInfo, s: SampleSettings, engine: EngineInfo, step: number): RunManifest {
  let datasetHash: string | null = null;
  if (fs.existsSync(path.join(info.runDir, RUN_FILES.manifest))) datasetHash = readManifest(info.runDir).dataset_hash;
  const m = newManifest("sample", s.seed, info.configHash, datasetHash);
  m.backend = {
    name: engine.engine === "tfjs" ? engine.backend : "onnxruntime-node",
    version: engine.version,
    threads: engine.threads,
    skipped: engine.skipped,
    devices: [engine.engine === "tfjs" ? engine.backend : engine.backend === "cuda" ? "cuda" : "cpu"],
    workers: 1,
    ...(engine.device ? { device: deviceRecord(engine.device) } : {}),
  };
  m.step = step;
  return m;
}

function sampleRecord(file: string, index: number, label: ResolvedConditions["labels"][number], s: SampleSettings, engine: EngineInfo, step: number, hash: string, nfe: number): SampleRecord {
  return {
    file,
    index,
    seed: s.seed,
    ...label,
    sampler: s.sampler,
    steps: s.steps,
    guidance: s.guidance,
    eta: s.eta,
    clip_x0: s.clip_x0,
    ema: s.ema,
    checkpoint_step: step,
    engine: s.engine,
    backend: engine.backend,
    sha256: hash,
    nfe,
    seconds_per_image: 0, // set for the whole call when it ends (withTiming)
  };
}

/** Passes `generate`'s per-batch progress on as part of the whole call's. */
function offsetProgress(outer: ProgressSink, offset: number): ProgressSink {
  return {
    start() {},
    stop() {},
    update: (done, fields) => outer.update(offset + done, fields),
    info: (m) => outer.info(m),
    warn: (m) => outer.warn(m),
  };
}
