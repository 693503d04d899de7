/**
 * `diffx eval CONFIG --folds K` as a library function.
 *
 *   1. Open (or continue) the eval run folder and take its lock; open the dataset; split it into
 *      k pair-preserving, stratified folds.
 *   2. For every fold and every distinct training of the variants: train on the other folds
 *      (reused when finished with the same hashes, resumed when interrupted), at most
 *      `parallel` at once (child processes when parallel > 1, in this process otherwise).
 *   3. For every fold × variant: sample `eval.samples_per_fold` images conditioned on the fold's
 *      held-out captions/sketches and score them against the held-out real images (FID, KID,
 *      bootstrap CIs, control metrics). Cells computed earlier with the same key are reused.
 *   4. Statistics across folds, report.json, report.md, report.html; manifest with the hash of
 *      every output.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Config } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import { initBackend } from "../engine/backend.js";
import type { ProgressSink } from "../engine/progress.js";
import { Rng } from "../engine/rng.js";
import { openDataset } from "../data/build.js";
import type { Dataset } from "../data/dataset.js";
import { loadExtractor, type FeatureExtractor } from "../metrics/extractor.js";
import { lockRun } from "../runs/lock.js";
import { readManifest, writeManifest, type RunManifest } from "../runs/manifest.js";
import type { CellReport, EvalReport } from "../report/report-types.js";
import { writeEvalReport, type WrittenReport } from "../report/write.js";
import { buildReport } from "./build-report.js";
import { realFloor, type RealFloor } from "./floor.js";
import { reusableCell, runCell, type CellJob } from "./cell.js";
import { createEvalFolder, hashEvalOutputs, locateEvalFolder, type EvalFolderOptions } from "./eval-folder.js";
import { planFolds, type FoldPlan } from "./fold-plan.js";
import { HeldOutLoader, type HeldOut } from "./held-out.js";
import { writeNpy } from "./npy.js";
import { refuseWhileSlurmJobsRun } from "./launchers/slurm-record.js";
import { runQueue } from "./queue.js";
import { inspectTraining, trainInChild, trainInProcess, writeFoldConfig, type TrainJob } from "./train-jobs.js";
import { foldTrainingConfig, resolveVariants, type ResolvedVariant, type TrainingPlan } from "./variants.js";

export interface EvalOptions {
  /** A config file (new or matching eval) … */
  configFile?: string;
  sets?: string[];
  /** --folds K: overrides eval.folds (part of the config, so of its hash). */
  folds?: number;
  /** … or an eval run folder to continue. */
  resume?: string;
  /** Eval run folder to create or continue (default runs/<name>-<UTC time>). */
  runDir?: string;
  /** Always start a new eval run folder (do not continue a matching one). */
  fresh?: boolean;
  /** --parallel N: folds trained at once (default eval.parallel). Not part of the config: results do not depend on it. */
  parallel?: number;
  /** Folder that datasets/ and the default runs/ are relative to (default: the process cwd). */
  cwd?: string;
  runsRoot?: string;
  backend?: "tensorflow" | "wasm" | "cpu";
  progress: ProgressSink;
  signal?: AbortSignal;
  /** Feature extractor to use instead of loading eval.features (tests, embedding). */
  extractor?: FeatureExtractor;
  /**
   * Only sample, score and report: every training must already be finished (the Slurm
   * launcher's final job, which runs after the training array succeeded).
   */
  requireTrained?: boolean;
}

export interface EvalResult {
  runDir: string;
  evalDir: string;
  interrupted: boolean;
  /** The report (null when interrupted). */
  report: EvalReport | null;
  files: WrittenReport | null;
  /** Trainings (relative to the eval folder) trained or resumed by this invocation … */
  trained: string[];
  /** … and reused from an earlier one. */
  reused: string[];
  /** Cells ("fold-0/ddim-4") reused from an earlier invocation. */
  reusedCells: string[];
}

export const EVAL_DIR = "eval";

/** `onnx:PATH` with a relative PATH is relative to `cwd`. */
export function resolveFeaturesSpec(spec: string, cwd: string): string {
  if (!spec.startsWith("onnx:")) return spec;
  const file = spec.slice("onnx:".length);
  return file && !path.isAbsolute(file) ? `onnx:${path.resolve(cwd, file)}` : spec;
}

/** The extractor eval.features names; its errors say that the key is eval.features. */
async function openExtractor(spec: string, cwd: string): Promise<FeatureExtractor> {
  try {
    return await loadExtractor(resolveFeaturesSpec(spec, cwd));
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`eval.features '${spec}': ${err.message} (set it with --set eval.features=onnx:PATH)`);
    throw err;
  }
}

/** Sampling seed of fold i: the same for every variant (common random numbers). */
export function sampleSeed(seed: number, fold: number): number {
  return new Rng(seed, "eval-samples", fold).nextU32();
}

/** Seed of KID subsets and bootstrap resamples of fold i. */
export function statsSeed(seed: number, fold: number): number {
  return new Rng(seed, "eval-stats", fold).nextU32();
}

export function loadEvalConfig(o: Pick<EvalOptions, "resume" | "configFile" | "sets" | "folds">): { config: Config; hash: string } | null {
  if (o.resume) {
    if (o.configFile) throw new UsageError("give either CONFIG or --resume EVALRUN, not both");
    if ((o.sets ?? []).length || o.folds !== undefined) throw new UsageError("--set and --folds cannot change an eval being resumed (its config.yaml is used as recorded)");
    return null;
  }
  if (!o.configFile) throw new UsageError("give a CONFIG file (e.g. configs/quickstart.yaml) or --resume EVALRUN");
  if (o.folds !== undefined && (!Number.isInteger(o.folds) || o.folds < 2)) throw new UsageError(`--folds ${o.folds}: k-fold cross-validation needs at least 2 folds`);
  const sets = [...(o.sets ?? []), ...(o.folds !== undefined ? [`eval.folds=${o.folds}`] : [])];
  const { config, hash } = loadConfig(o.configFile, sets);
  return { config, hash };
}

/** What an eval settles before it touches a run folder, whichever launcher runs it. */
export interface EvalPlan {
  cwd: string;
  config: Config;
  folderOptions: EvalFolderOptions;
  /** The eval run folder to continue, or null when a new one is to be created. */
  existing: string | null;
  ds: Dataset;
  plan: FoldPlan;
  variants: ResolvedVariant[];
  trainings: TrainingPlan[];
}

/** What the local launcher adds to the plan. */
interface Prepared extends EvalPlan {
  o: EvalOptions;
  parallel: number;
  extractor: FeatureExtractor;
  featuresSpec: string;
}

export type JobEntry = { job: TrainJob; hash: string; reused: boolean };

/** Load the config, find the eval folder, open the dataset, split it, resolve the variants: every check before a folder is made. */
export function planEval(o: Pick<EvalOptions, "cwd" | "runsRoot" | "runDir" | "resume" | "fresh" | "configFile" | "sets" | "folds" | "progress">): EvalPlan {
  const cwd = path.resolve(o.cwd ?? process.cwd());
  const folderOptions: EvalFolderOptions = { runsRoot: path.resolve(cwd, o.runsRoot ?? "runs"), runDir: o.runDir, resume: o.resume, fresh: o.fresh };
  const located = locateEvalFolder(folderOptions, loadEvalConfig(o));
  const { config } = located;
  const ds = openDataset(config.dataset, { cwd, progress: o.progress });
  const plan = planFolds(ds, config.eval.folds, config.seed, config.dataset.stratify, o.folds !== undefined ? "--folds" : "eval.folds");
  const { variants, trainings } = resolveVariants(config);
  for (const v of variants) {
    if (v.config.eval.samples_per_fold < 2) throw new UsageError(`eval.samples_per_fold ${v.config.eval.samples_per_fold}: FID/KID need at least 2 generated images per fold`);
  }
  return { cwd, config, folderOptions, existing: located.runDir, ds, plan, variants, trainings };
}

export async function runEval(o: EvalOptions): Promise<EvalResult> {
  const located = planEval(o);
  const parallel = o.parallel ?? located.config.eval.parallel;
  if (!Number.isInteger(parallel) || parallel < 1) throw new UsageError(`--parallel ${parallel}: must be a positive integer`);
  const featuresSpec = located.config.eval.features;
  const own = o.extractor ? null : await openExtractor(featuresSpec, located.cwd);
  try {
    const extractor = o.extractor ?? (own as FeatureExtractor);
    return await evaluateInFolder({ ...located, o, parallel, extractor, featuresSpec });
  } finally {
    await own?.release?.();
  }
}

/** The eval run folder of a plan: the one to continue, or a new one. */
export function openEvalFolder(p: EvalPlan): { runDir: string; evalDir: string; manifest: RunManifest } {
  const { runDir, manifest } = p.existing ? { runDir: p.existing, manifest: readManifest(p.existing) } : createEvalFolder(p.folderOptions, p.config);
  return { runDir, evalDir: path.join(runDir, EVAL_DIR), manifest };
}

/** Refuse a dataset that changed since the eval started. */
export function checkDatasetUnchanged(p: EvalPlan, manifest: RunManifest): void {
  if (manifest.dataset_hash && manifest.dataset_hash !== p.ds.hash) {
    throw new UsageError(`${p.ds.dir} changed since this eval started (dataset hash ${p.ds.hash.slice(0, 12)}… ≠ recorded ${manifest.dataset_hash.slice(0, 12)}…); start a new eval with --fresh`);
  }
}

/** eval/folds.json: the split every training and cell of the eval uses. */
export function writeFoldsFile(p: EvalPlan, evalDir: string): void {
  const { plan, ds } = p;
  writeJsonAtomic(path.join(evalDir, FOLDS_FILE), {
    k: plan.k,
    seed: plan.seed,
    stratify: plan.stratify,
    dataset_hash: ds.hash,
    folds: plan.heldOut.map((rows, i) => ({ fold: i, held_out: rows.map((r) => ds.pairs[r].id), train_rows: plan.train[i], held_out_rows: rows })),
  });
}

export const FOLDS_FILE = "folds.json";

async function evaluateInFolder(p: Prepared): Promise<EvalResult> {
  const { o, config, ds, plan } = p;
  const { runDir, evalDir, manifest } = openEvalFolder(p);
  if (p.existing) o.progress.info(`continuing eval run ${runDir}`);
  const release = lockRun(runDir);
  let started = false;
  try {
    checkDatasetUnchanged(p, manifest);
    refuseWhileSlurmJobsRun(evalDir);
    const backend = await initBackend(o.backend ?? config.engine.backend, { threads: config.engine.threads });
    for (const w of backend.warnings) o.progress.warn(w);
    manifest.dataset_hash = ds.hash;
    manifest.status = "running";
    manifest.backend = { name: backend.name, version: backend.version, threads: backend.threads, skipped: backend.skipped, devices: ["cpu"], workers: p.parallel };
    if (backend.threadsNote !== undefined) manifest.backend.threads_note = backend.threadsNote;
    started = true;
    writeManifest(runDir, manifest);
    writeFoldsFile(p, evalDir);

    const jobs = foldJobs(p, evalDir);
    const loader = new HeldOutLoader(ds, evalDir);
    const done = await trainAndScore(p, evalDir, jobs, loader);
    if (done.interrupted || o.signal?.aborted) {
      manifest.status = "interrupted";
      hashEvalOutputs(runDir, manifest, jobs.map((j) => j.job.dir));
      writeManifest(runDir, manifest);
      return { runDir, evalDir, interrupted: true, report: null, files: null, trained: done.trained, reused: done.reused, reusedCells: done.reusedCells };
    }

    const heldOut = await Promise.all(plan.heldOut.map((rows, fold) => loader.fold(fold, rows, p.variants[0].config.model.resolution)));
    const floors: RealFloor[] = [];
    for (let fold = 0; fold < plan.k; fold++) {
      const n = p.variants[0].config.eval.samples_per_fold;
      floors.push(await realFloor({ evalDir, fold, heldOut: heldOut[fold], trainRows: plan.train[fold], nB: n, loader, extractor: p.extractor, seed: config.seed, statsSeed: statsSeed(config.seed, fold) }));
    }
    const report = buildReport({
      config,
      configHash: manifest.config_hash,
      ds,
      plan,
      variants: p.variants,
      jobs: jobs.map((j) => ({ job: j.job, reused: j.reused })),
      cells: done.cells,
      extractor: p.extractor,
      featuresSpec: p.featuresSpec,
      heldOut,
      floors,
    });
    for (const m of ["fid", "kid"] as const) {
      writeFileAtomic(path.join(evalDir, `${m}.csv`), "fold,variant,value\n" + report.cells.map((c) => `${c.fold},${c.variant},${c[m]}`).join("\n") + "\n");
    }
    const files = writeEvalReport(evalDir, report);
    manifest.status = "finished";
    manifest.finished = new Date().toISOString();
    hashEvalOutputs(runDir, manifest, jobs.map((j) => j.job.dir));
    writeManifest(runDir, manifest);
    const final = JSON.parse(fs.readFileSync(files.json, "utf8")) as EvalReport;
    return { runDir, evalDir, interrupted: false, report: final, files, trained: done.trained, reused: done.reused, reusedCells: done.reusedCells };
  } catch (err) {
    if (started) {
      manifest.status = "failed";
      writeManifest(runDir, manifest);
    }
    throw err;
  } finally {
    release();
  }
}

/** Every fold × training, with its fold config written beside its folder. */
export function foldJobs(p: EvalPlan, evalDir: string): JobEntry[] {
  const jobs: JobEntry[] = [];
  for (let fold = 0; fold < p.plan.k; fold++) {
    for (const t of p.trainings) {
      const job: TrainJob = {
        fold,
        name: t.name,
        dir: path.join(evalDir, `fold-${fold}`, t.name),
        rel: `fold-${fold}/${t.name}`,
        configFile: path.join(evalDir, `fold-${fold}`, `${t.name}.yaml`),
        config: foldTrainingConfig(t, p.config.name, fold),
        split: { train: p.plan.train[fold], held_out: p.plan.heldOut[fold] },
      };
      jobs.push({ job, hash: writeFoldConfig(job), reused: false });
    }
  }
  return jobs;
}

interface Scored {
  cells: CellReport[];
  trained: string[];
  reused: string[];
  reusedCells: string[];
  interrupted: boolean;
}

/**
 * Train every job (at most `parallel` at once) and, as each training is ready, sample and score
 * its cells. Cells are scored one at a time in this process, whatever the number of trainings.
 */
async function trainAndScore(p: Prepared, evalDir: string, jobs: JobEntry[], loader: HeldOutLoader): Promise<Scored> {
  const { o, config, plan } = p;
  const progress = o.progress;
  const out: Scored = { cells: [], trained: [], reused: [], reusedCells: [], interrupted: false };
  const realFeatures = new Map<string, { rows: Float64Array[]; file: string }>();
  const realFor = async (fold: number, h: HeldOut): Promise<{ rows: Float64Array[]; file: string }> => {
    const key = `${fold}/${h.resolution}`;
    let r = realFeatures.get(key);
    if (!r) {
      const file = `fold-${fold}/real-${h.resolution}px/features.npy`;
      r = { rows: await p.extractor.extract(h.images), file };
      writeNpy(path.join(evalDir, file), r.rows);
      realFeatures.set(key, r);
    }
    return r;
  };

  // fold trainings running at this moment: a cell sampled meanwhile shares the CPU with them
  let training = 0;
  let scoring: Promise<void> = Promise.resolve();
  const exclusive = (fn: () => Promise<void>): Promise<void> => {
    const next = scoring.then(fn);
    scoring = next.catch(() => {});
    return next;
  };

  const scoreCells = async ({ job, hash }: JobEntry): Promise<void> => {
    for (const v of p.variants.filter((x) => x.training === job.name)) {
      if (o.signal?.aborted) {
        out.interrupted = true;
        return;
      }
      const h = await loader.fold(job.fold, plan.heldOut[job.fold], v.config.model.resolution);
      const real = await realFor(job.fold, h);
      const cellJob: CellJob = {
        evalDir,
        fold: job.fold,
        variant: v,
        trainDir: job.dir,
        trainRel: job.rel,
        trainHash: hash,
        seed: sampleSeed(config.seed, job.fold),
        statsSeed: statsSeed(config.seed, job.fold),
        heldOut: h,
        realFeatures: real.rows,
        realFeaturesFile: real.file,
        extractor: p.extractor,
        featuresSpec: p.featuresSpec,
        datasetHash: p.ds.hash,
        backend: o.backend,
        concurrentTrainings: training,
        progress,
      };
      const label = `fold ${job.fold + 1}/${plan.k} · ${v.name}`;
      const old = reusableCell(cellJob);
      if (old) {
        progress.info(`${label}: reusing scores (FID ${old.fid.toPrecision(5)})`);
        out.reusedCells.push(`fold-${job.fold}/${v.name}`);
        out.cells.push(old);
        continue;
      }
      progress.info(`${label}: sampling ${v.config.eval.samples_per_fold} images (${v.config.sample.sampler}, ${v.config.sample.steps} steps, guidance ${v.config.sample.guidance}) and scoring`);
      const s = await runCell(cellJob);
      progress.info(`${label}: FID ${s.fid.toPrecision(5)}, KID ${s.kid.toPrecision(4)}`);
      out.cells.push(s);
    }
  };

  await runQueue(
    jobs,
    p.parallel,
    async (entry, _slot, signal) => {
      const { job, hash } = entry;
      const label = `fold ${job.fold + 1}/${plan.k} · ${job.name}`;
      const state = inspectTraining(job, hash);
      if (state.kind !== "finished" && o.requireTrained) {
        throw new RuntimeFailure(`${job.rel} is not finished (${state.kind === "resume" ? "interrupted" : "not started"}); this job only samples and scores: resubmit the missing trainings with 'diffx eval --resume ${path.dirname(evalDir)}'`);
      }
      if (state.kind === "finished") {
        progress.info(`${label}: reusing finished training ${job.rel} (${state.step} steps)`);
        entry.reused = true;
        out.reused.push(job.rel);
      } else {
        progress.info(`${label}: ${state.kind === "resume" ? "resuming" : "training"} ${job.rel} (${job.config.train.steps} steps on ${job.split.train.length} pairs)`);
        // parallel children share the cores instead of each taking all of them
        const runner = { cwd: p.cwd, backend: o.backend, progress, threads: p.parallel > 1 ? Math.max(1, Math.floor(os.availableParallelism() / p.parallel)) : undefined };
        const train = p.parallel > 1 ? trainInChild : trainInProcess;
        training++;
        let r: Awaited<ReturnType<typeof train>>;
        try {
          r = await train(job, state.kind === "resume", runner, signal);
        } finally {
          training--;
        }
        if (r.interrupted) {
          out.interrupted = true;
          return;
        }
        out.trained.push(job.rel);
      }
      await exclusive(() => scoreCells(entry));
    },
    o.signal,
  );
  await scoring;
  return out;
}
