/**
 * What an eval handed to Slurm: `eval/slurm/jobs.jsonl`, one line per submission (the training
 * array with its task → training map, and the final job that samples, scores and reports), with
 * the scripts in `eval/slurm/` and the logs in `eval/slurm/logs/`. `diffx status` and
 * `diffx eval --resume` read it to tell which job did (or does) what.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UsageError } from "../../errors.js";
import { ownSlurmJob } from "../../runs/slurm-job.js";
import { isLive, jobStates } from "./slurm-client.js";
import { makeDirs } from "../../engine/make-dirs.js";

export const SLURM_DIR = "slurm";
export const SUBMISSIONS_FILE = "jobs.jsonl";
export const SUBMISSION_FORMAT = "diffx-slurm-submission/1";

export interface SubmissionRecord {
  format: typeof SUBMISSION_FORMAT;
  submitted: string;
  /** The training array, when this submission trained anything. */
  train: { job: string; script: string; tasks: { index: number; training: string }[] } | null;
  /** The job that samples, scores and writes the report, and the jobs it waits for. */
  finish: { job: string; script: string; after: string[] };
}

/** Slurm folder of an eval (scripts, records, logs). */
export function slurmDir(evalDir: string): string {
  return path.join(evalDir, SLURM_DIR);
}

/** Log of a training array task, relative to the eval folder (what `#SBATCH --output` writes). */
export function trainLog(arrayJob: string, index: number): string {
  return `${SLURM_DIR}/logs/train-${arrayJob}_${index}.log`;
}

export function finishLog(job: string): string {
  return `${SLURM_DIR}/logs/finish-${job}.log`;
}

export function readSubmissions(evalDir: string): SubmissionRecord[] {
  const file = path.join(slurmDir(evalDir), SUBMISSIONS_FILE);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as SubmissionRecord)
    .filter((r) => r.format === SUBMISSION_FORMAT);
}

/** Appended with one write (a line is never half there for a reader that stops at the last newline). */
export function appendSubmission(evalDir: string, r: SubmissionRecord): void {
  makeDirs(slurmDir(evalDir));
  fs.appendFileSync(path.join(slurmDir(evalDir), SUBMISSIONS_FILE), JSON.stringify(r) + "\n");
}

/** The newest Slurm task of each training ("fold-0/train" → { job: "123_0", log }). */
export function latestTrainingJobs(records: readonly SubmissionRecord[]): Map<string, { job: string; log: string }> {
  const out = new Map<string, { job: string; log: string }>();
  for (const r of records) {
    for (const t of r.train?.tasks ?? []) out.set(t.training, { job: `${r.train?.job}_${t.index}`, log: trainLog(r.train?.job ?? "", t.index) });
  }
  return out;
}

/** Every job id an eval submitted (array tasks as "123_4"). */
export function allJobs(records: readonly SubmissionRecord[]): string[] {
  return records.flatMap((r) => [...(r.train?.tasks ?? []).map((t) => `${r.train?.job}_${t.index}`), r.finish.job]);
}

/**
 * The eval's jobs that are still queued or running (other than this process's own job), with
 * their states; null when squeue is not available here.
 */
export function liveJobs(records: readonly SubmissionRecord[], states: Map<string, string> | null = jobStates()): Map<string, string> | null {
  if (states === null) return null;
  const own = ownSlurmJob();
  const live = new Map<string, string>();
  for (const id of allJobs(records)) {
    const s = states.get(id);
    if (s !== undefined && isLive(s) && id !== own) live.set(id, s);
  }
  return live;
}

/**
 * A local eval must not write trainings that Slurm tasks are writing: refuse while any job of
 * the eval is queued or running (where squeue can tell; the final job itself is excluded).
 */
export function refuseWhileSlurmJobsRun(evalDir: string): void {
  const records = readSubmissions(evalDir);
  if (records.length === 0) return;
  const live = liveJobs(records);
  // a task COMPLETING has ended its work (Slurm is cleaning up after it; the final job may start then)
  for (const [id, s] of live ?? []) if (s === "COMPLETING") live?.delete(id);
  if (live === null || live.size === 0) return;
  const list = [...live].map(([id, s]) => `${id} ${s.toLowerCase()}`).join(", ");
  throw new UsageError(`${path.dirname(evalDir)}: this eval's Slurm jobs are still queued or running (${list}); see 'diffx status ${path.dirname(evalDir)}', or cancel them with scancel before running it here`);
}
