/**
 * One training of an eval, run as a cluster task: `diffx task eval-train EVALRUN fold-0/train`.
 * Like a submitit job, it is a plain function of its folder: everything it needs is in the eval
 * run (the fold config `eval/fold-<i>/<name>.yaml` and the split in `eval/folds.json`), and it is
 * idempotent: a finished training is left as it is, an interrupted one (preempted, cancelled,
 * requeued) resumes from its last checkpoint, a missing one starts. The same checks as the
 * local launcher decide which (inspectTraining).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../config/load.js";
import { UsageError } from "../../errors.js";
import type { ProgressSink } from "../../engine/progress.js";
import { RUN_FILES } from "../../runs/folder.js";
import { inspectTraining, trainInProcess, type TrainJob } from "../train-jobs.js";

export interface TrainingTaskOptions {
  /** The eval run folder (holds eval/). */
  evalRun: string;
  /** The training relative to the eval folder: "fold-<i>/train" or "fold-<i>/train-<variant>". */
  training: string;
  cwd?: string;
  backend?: "tensorflow" | "wasm" | "cpu";
  threads?: number;
  progress: ProgressSink;
  signal?: AbortSignal;
}

export interface TrainingTaskResult {
  /** "finished-before": the output was complete, nothing was done. */
  outcome: "finished-before" | "trained" | "resumed" | "interrupted";
  dir: string;
}

const TRAINING = /^fold-(\d+)\/(train(?:-[A-Za-z0-9._-]+)?)$/;

interface FoldsFile {
  k: number;
  folds: { fold: number; train_rows: number[]; held_out_rows: number[] }[];
}

/** The eval's TrainJob for `training`, read from the files the submitter wrote. */
export function readTrainJob(evalRun: string, training: string): { job: TrainJob; hash: string } {
  const evalDir = path.join(path.resolve(evalRun), RUN_FILES.eval);
  const m = TRAINING.exec(training);
  if (!m) throw new UsageError(`${training}: expected a training of the eval like fold-0/train`);
  const fold = Number(m[1]);
  const name = m[2];
  const foldsFile = path.join(evalDir, "folds.json");
  const configFile = path.join(evalDir, `fold-${fold}`, `${name}.yaml`);
  for (const f of [foldsFile, configFile]) if (!fs.existsSync(f)) throw new UsageError(`${f} is missing: ${evalRun} is not an eval prepared for this training`);
  const folds = JSON.parse(fs.readFileSync(foldsFile, "utf8")) as FoldsFile;
  const split = folds.folds.find((f) => f.fold === fold);
  if (!split) throw new UsageError(`${foldsFile} has no fold ${fold}`);
  const { config, hash } = loadConfig(configFile);
  const job: TrainJob = { fold, name, dir: path.join(evalDir, `fold-${fold}`, name), rel: training, configFile, config, split: { train: split.train_rows, held_out: split.held_out_rows } };
  return { job, hash };
}

export async function runTrainingTask(o: TrainingTaskOptions): Promise<TrainingTaskResult> {
  const { job, hash } = readTrainJob(o.evalRun, o.training);
  const state = inspectTraining(job, hash);
  if (state.kind === "finished") {
    o.progress.info(`${job.rel}: already finished (${state.step} steps); nothing to do`);
    return { outcome: "finished-before", dir: job.dir };
  }
  const resume = state.kind === "resume";
  o.progress.info(`${job.rel}: ${resume ? "resuming from its last checkpoint" : "training"} (${job.config.train.steps} steps on ${job.split.train.length} pairs)`);
  const r = await trainInProcess(job, resume, { cwd: path.resolve(o.cwd ?? process.cwd()), backend: o.backend, threads: o.threads, progress: o.progress }, o.signal);
  return { outcome: r.interrupted ? "interrupted" : resume ? "resumed" : "trained", dir: job.dir };
}
