/**
 * The Slurm launcher of `diffx eval`: instead of training and scoring here, submit
 *   - one job array with a task per (fold, training) that is not finished yet, each running
 *     `diffx task eval-train EVALRUN fold-<i>/<training>` (idempotent, resumes from checkpoints);
 *   - one job after it (`--dependency=afterok`) running `diffx task eval-finish EVALRUN`: the
 *     local eval of the same folder, which finds every training finished, samples and scores
 *     the cells that remain and writes the report.
 * The eval run folder must be on a filesystem the nodes share; the jobs run in the folder the
 * eval was submitted from (datasets/ and relative paths resolve as they did here).
 *
 * Locks: the submitter holds the eval's lock only while it prepares and submits; each array task
 * takes its own training folder's lock (like every training) and the final job takes the eval
 * lock. A pid means nothing on another node, so the locks also name host and Slurm job, and before
 * resubmitting, the submitter clears locks left by this eval's own jobs that Slurm says have ended.
 * `diffx eval --resume` resubmits only trainings that are neither finished nor queued/running.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { LauncherConfig } from "../../config/schema.js";
import { UsageError } from "../../errors.js";
import { writeFileAtomic } from "../../engine/atomic.js";
import type { ProgressSink } from "../../engine/progress.js";
import { RUN_FILES, utcStamp } from "../../runs/folder.js";
import { LOCK_FILE, lockRun, readLock } from "../../runs/lock.js";
import { readManifest, writeManifest } from "../../runs/manifest.js";
import { PACKAGE_ROOT } from "../../runs/version.js";
import { defaultDatasetDir } from "../../data/build.js";
import { locateEvalFolder } from "../eval-folder.js";
import { checkDatasetUnchanged, EVAL_DIR, foldJobs, loadEvalConfig, openEvalFolder, planEval, writeFoldsFile, type EvalOptions, type EvalPlan } from "../run-eval.js";
import { resolveVariants } from "../variants.js";
import { inspectTraining } from "../train-jobs.js";
import { jobStates, requireSlurm, sbatch, scancel } from "./slurm-client.js";
import { appendSubmission, finishLog, latestTrainingJobs, liveJobs, readSubmissions, slurmDir, SUBMISSION_FORMAT, SLURM_DIR } from "./slurm-record.js";
import { gresFor, renderSbatchScript, shellQuote } from "./slurm-script.js";
import { slurmGpuCount } from "./slurm-devices.js";
import { makeDirs } from "../../engine/make-dirs.js";

/** What `diffx eval` takes (run-eval.ts), less what Slurm decides itself, plus the launcher. */
export interface SlurmEvalOptions extends Pick<EvalOptions, "configFile" | "sets" | "folds" | "resume" | "runDir" | "fresh" | "cwd" | "runsRoot" | "backend" | "progress"> {
  launcher: LauncherConfig;
  /** Print the scripts, write and submit nothing. */
  dryRun?: boolean;
}

export interface ScriptFile {
  /** Where it is (or would be) written. */
  file: string;
  text: string;
  /** The sbatch command that submits it. */
  command: string;
}

export interface SlurmEvalSubmission {
  runDir: string;
  dryRun: boolean;
  scripts: ScriptFile[];
  /** The training array (its job id, null in a dry run) and its tasks. */
  train: { job: string | null; tasks: { index: number; training: string }[] } | null;
  /** The final job (null when nothing was submitted) and the jobs it waits for. */
  finish: { job: string | null; after: string[] } | null;
  /** Trainings already finished, and trainings whose tasks are still queued or running (kept). */
  finished: string[];
  kept: { training: string; job: string }[];
  /** Why nothing was submitted, when nothing was. */
  nothing: string | null;
  /** Dry run: what it could not check because the dataset is not built yet, else null. */
  unchecked: string | null;
}

const BIN = path.join(PACKAGE_ROOT, "bin", "diffx.js");

/** `node …/bin/diffx.js [--backend X]` as shell words. */
function diffxCommand(backend: string | undefined): string {
  return [process.execPath, BIN, ...(backend ? ["--backend", backend] : [])].map(shellQuote).join(" ");
}

function trainingNames(k: number, trainings: EvalPlan["trainings"]): string[] {
  const out: string[] = [];
  for (let fold = 0; fold < k; fold++) for (const t of trainings) out.push(`fold-${fold}/${t.name}`);
  return out;
}

/** The GPUs one training task holds: the largest train.devices among the eval's trainings. */
function trainingGpus(p: Pick<EvalPlan, "trainings">, launcher: LauncherConfig): number | null {
  if (launcher.gres !== "auto") return null;
  const onGpu = p.trainings.filter((t) => t.config.engine.device !== "cpu");
  return onGpu.length ? Math.max(...onGpu.map((t) => slurmGpuCount(t.config.train.devices, "train.devices"))) : null;
}

interface ScriptPlan {
  runDir: string;
  /** engine.device is cpu: the final job asks for no GPU. */
  sampleOnCpu: boolean;
  cwd: string;
  name: string;
  launcher: LauncherConfig;
  backend?: string;
}

export function trainArrayScript(s: ScriptPlan, trainings: readonly string[], indices: readonly number[], gpus: number | null): string {
  const evalDir = path.join(s.runDir, EVAL_DIR);
  const threads = s.launcher.cpus_per_task !== undefined ? ' --threads "$SLURM_CPUS_PER_TASK"' : "";
  return renderSbatchScript({
    jobName: `diffx-${s.name}-train`,
    about: [
      `diffx eval ${s.name}: the fold trainings, one array task per (fold, training).`,
      `Eval run: ${s.runDir}`,
      "Each task trains its fold, resumes it from its last checkpoint (after a requeue, preemption or",
      "cancellation), or does nothing when it is already finished. Its config is eval/<training>.yaml",
      "and its split eval/folds.json. When every task has succeeded, finish.sbatch samples, scores",
      "and writes the report.",
      "",
      ...trainings.map((t, i) => `task ${i}: ${t}`),
    ],
    log: path.join(evalDir, SLURM_DIR, "logs", "train-%A_%a.log"),
    array: indices,
    gres: gresFor(s.launcher, gpus),
    launcher: s.launcher,
    cwd: s.cwd,
    body: [
      `TRAININGS=(${trainings.join(" ")})`,
      `exec ${diffxCommand(s.backend)} task eval-train ${shellQuote(s.runDir)} "\${TRAININGS[$SLURM_ARRAY_TASK_ID]}"${threads}`,
    ],
  });
}

export function finishScript(s: ScriptPlan): string {
  const evalDir = path.join(s.runDir, EVAL_DIR);
  return renderSbatchScript({
    jobName: `diffx-${s.name}-report`,
    about: [
      `diffx eval ${s.name}: after the fold trainings, sample and score every fold × variant cell`,
      "not scored yet, then write report.json/md/html. It runs the local eval of the same folder,",
      "which reuses every finished training and every scored cell.",
      `Eval run: ${s.runDir}`,
    ],
    log: path.join(evalDir, SLURM_DIR, "logs", "finish-%j.log"),
    gres: gresFor(s.launcher, s.sampleOnCpu ? null : 1),
    launcher: s.launcher,
    cwd: s.cwd,
    body: [`exec ${diffxCommand(s.backend)} task eval-finish ${shellQuote(s.runDir)}`],
  });
}

/** The run folder a new eval would get (dry run: nothing is created). */
function wouldBeRunDir(p: Pick<EvalPlan, "folderOptions" | "config">): string {
  if (p.folderOptions.runDir) return path.resolve(p.folderOptions.runDir);
  return path.join(p.folderOptions.runsRoot, `${p.config.name}-${utcStamp(new Date())}`);
}

/** Read-only: is the training in `dir` finished (dry run)? */
function finishedTraining(dir: string, steps: number): boolean {
  if (!fs.existsSync(path.join(dir, RUN_FILES.manifest))) return false;
  const m = readManifest(dir);
  return m.status === "finished" && (m.step ?? 0) >= steps;
}

function sbatchCommand(file: string, dependency: string | null): string {
  return ["sbatch", "--parsable", ...(dependency ? [`--dependency=afterok:${dependency}`, "--kill-on-invalid-dep=yes"] : []), file].map(shellQuote).join(" ");
}

export function submitEvalToSlurm(o: SlurmEvalOptions): SlurmEvalSubmission {
  if (o.dryRun) return dryRun(o);
  requireSlurm("diffx eval --launcher slurm");
  const p = planEval(o);
  const names = trainingNames(p.plan.k, p.trainings);
  const gpus = trainingGpus(p, o.launcher);

  const { runDir, evalDir, manifest } = openEvalFolder(p);
  if (p.existing) o.progress.info(`continuing eval run ${runDir}`);
  const release = lockRun(runDir);
  try {
    checkDatasetUnchanged(p, manifest);
    manifest.dataset_hash = p.ds.hash;
    writeFoldsFile(p, evalDir);
    const jobs = foldJobs(p, evalDir);

    const records = readSubmissions(evalDir);
    const live = liveJobs(records, jobStates()) ?? new Map<string, string>();
    const latest = latestTrainingJobs(records);
    const finished: string[] = [];
    const kept: { training: string; job: string }[] = [];
    const submit: number[] = [];
    jobs.forEach(({ job, hash }, index) => {
      const state = inspectTraining(job, hash);
      const task = latest.get(job.rel);
      if (state.kind === "finished") finished.push(job.rel);
      else if (task && live.has(task.job)) kept.push({ training: job.rel, job: task.job });
      else submit.push(index);
    });
    const lastFinish = records.length ? records[records.length - 1].finish.job : null;
    const finishLive = lastFinish !== null && live.has(lastFinish);
    const result: SlurmEvalSubmission = { runDir, dryRun: false, scripts: [], train: null, finish: null, finished, kept, nothing: null, unchecked: null };
    if (submit.length === 0 && finishLive) {
      result.nothing = `every training is finished or queued/running, and the final job ${lastFinish} is ${live.get(lastFinish as string)?.toLowerCase()}`;
      return result;
    }
    if (submit.length === 0 && kept.length === 0 && manifest.status === "finished" && fs.existsSync(path.join(evalDir, "report.json"))) {
      result.nothing = "the eval is finished (every training done, report written)";
      return result;
    }
    // the final job of an earlier submission may wait for tasks that failed: replaced by a new one
    if (finishLive) scancel([lastFinish as string]);
    // locks left in a training folder by this eval's own jobs that have ended (possibly on another node)
    for (const index of submit) {
      const lock = readLock(jobs[index].job.dir);
      if (lock?.job && !live.has(lock.job) && latest.get(jobs[index].job.rel)?.job === lock.job) fs.rmSync(path.join(jobs[index].job.dir, LOCK_FILE), { force: true });
    }

    const s: ScriptPlan = { runDir, cwd: p.cwd, name: p.config.name, launcher: o.launcher, backend: o.backend, sampleOnCpu: p.config.engine.device === "cpu" };
    makeDirs(path.join(slurmDir(evalDir), "logs"));
    let trainJob: string | null = null;
    if (submit.length > 0) {
      const file = path.join(slurmDir(evalDir), "train.sbatch");
      writeFileAtomic(file, trainArrayScript(s, names, submit, gpus));
      result.scripts.push({ file, text: fs.readFileSync(file, "utf8"), command: sbatchCommand(file, null) });
      trainJob = sbatch(file);
      result.train = { job: trainJob, tasks: submit.map((index) => ({ index, training: names[index] })) };
    }
    const after = [...(trainJob ? [trainJob] : []), ...kept.map((k) => k.job)];
    const file = path.join(slurmDir(evalDir), "finish.sbatch");
    writeFileAtomic(file, finishScript(s));
    result.scripts.push({ file, text: fs.readFileSync(file, "utf8"), command: sbatchCommand(file, after.length ? after.join(":") : null) });
    let finishJob: string;
    try {
      finishJob = sbatch(file, after.length ? [`--dependency=afterok:${after.join(":")}`, "--kill-on-invalid-dep=yes"] : []);
    } catch (err) {
      if (trainJob) scancel([trainJob]); // an array without its final job would train for nothing
      throw err;
    }
    result.finish = { job: finishJob, after };
    appendSubmission(evalDir, {
      format: SUBMISSION_FORMAT,
      submitted: new Date().toISOString(),
      train: trainJob && result.train ? { job: trainJob, script: `${SLURM_DIR}/train.sbatch`, tasks: result.train.tasks } : null,
      finish: { job: finishJob, script: `${SLURM_DIR}/finish.sbatch`, after },
    });
    manifest.status = "submitted";
    writeManifest(runDir, manifest);
    o.progress.info(`logs: ${path.join(evalDir, SLURM_DIR, "logs")}`);
    return result;
  } finally {
    release();
  }
}

/**
 * What a dry run needs of the plan. A generated dataset that is not built yet is not built by a
 * dry run (it writes nothing): the scripts then follow the config's fold count, and the checks
 * that need the pairs (enough pair groups for the folds) wait for the submission.
 */
type DryPlan = Pick<EvalPlan, "cwd" | "config" | "folderOptions" | "existing" | "trainings"> & { k: number; unchecked: string | null };

function planDryRun(o: SlurmEvalOptions): DryPlan {
  const cwd = path.resolve(o.cwd ?? process.cwd());
  const folderOptions = { runsRoot: path.resolve(cwd, o.runsRoot ?? "runs"), runDir: o.runDir, resume: o.resume, fresh: o.fresh };
  const { config, runDir } = locateEvalFolder(folderOptions, loadEvalConfig(o));
  const dataset = config.dataset.kind === "folder" ? null : defaultDatasetDir(config.dataset, cwd);
  if (dataset !== null && !fs.existsSync(dataset)) {
    const unchecked = `the dataset ${path.relative(cwd, dataset) || dataset} is not built yet; the submission builds it here first and then checks the folds against its pairs`;
    return { cwd, config, folderOptions, existing: runDir, trainings: resolveVariants(config).trainings, k: config.eval.folds, unchecked };
  }
  const p = planEval(o);
  return { ...p, k: p.plan.k, unchecked: null };
}

function dryRun(o: SlurmEvalOptions): SlurmEvalSubmission {
  const p = planDryRun(o);
  const names = trainingNames(p.k, p.trainings);
  const gpus = trainingGpus(p, o.launcher);
  const runDir = p.existing ?? wouldBeRunDir(p);
  const evalDir = path.join(runDir, EVAL_DIR);
  const finished = p.existing ? names.filter((n, i) => finishedTraining(path.join(evalDir, n), p.trainings[i % p.trainings.length].config.train.steps)) : [];
  const submit = names.map((_, i) => i).filter((i) => !finished.includes(names[i]));
  const s: ScriptPlan = { runDir, cwd: p.cwd, name: p.config.name, launcher: o.launcher, backend: o.backend, sampleOnCpu: p.config.engine.device === "cpu" };
  const scripts: ScriptFile[] = [];
  const trainFile = path.join(slurmDir(evalDir), "train.sbatch");
  if (submit.length) scripts.push({ file: trainFile, text: trainArrayScript(s, names, submit, gpus), command: sbatchCommand(trainFile, null) });
  const finishFile = path.join(slurmDir(evalDir), "finish.sbatch");
  scripts.push({ file: finishFile, text: finishScript(s), command: sbatchCommand(finishFile, submit.length ? "<training array job id>" : null) });
  if (!p.existing && !o.runDir) o.progress.info(`dry run: the eval run folder would be created at submission (named like ${runDir})`);
  return {
    runDir,
    dryRun: true,
    scripts,
    train: submit.length ? { job: null, tasks: submit.map((index) => ({ index, training: names[index] })) } : null,
    finish: { job: null, after: [] },
    finished,
    kept: [],
    nothing: null,
    unchecked: p.unchecked,
  };
}

/** Guard for options that make no sense with a launcher. */
export function checkSlurmEvalOptions(o: { parallel?: number }): void {
  if (o.parallel !== undefined) throw new UsageError("--parallel sets how many folds train at once on this machine; with --launcher slurm every fold is its own job (Slurm decides how many run at once)");
}
