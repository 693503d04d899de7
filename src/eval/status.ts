/**
 * `diffx status EVALRUN`: the state of every piece of an eval — each (fold, training), each
 * fold × variant cell, the report — from its files (a training's manifest and metrics, a cell's
 * cell.json, report.json) and, for an eval submitted to Slurm, from the job that runs it
 * (eval/slurm/jobs.jsonl and squeue). Nothing is written.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../config/load.js";
import { UsageError } from "../errors.js";
import { RUN_FILES } from "../runs/folder.js";
import { lockOwner } from "../runs/lock.js";
import { readManifest } from "../runs/manifest.js";
import { isLive, jobStates } from "./launchers/slurm-client.js";
import { finishLog, latestTrainingJobs, readSubmissions } from "./launchers/slurm-record.js";
import { resolveVariants } from "./variants.js";

export type ItemState = "done" | "queued" | "running" | "failed" | "interrupted" | "not started" | "unknown";

export interface StatusRow {
  /** "fold-0/train", "fold-0/ddim-4" or "report". */
  item: string;
  kind: "training" | "cell" | "report";
  state: ItemState;
  /** "step 120 of 200", "FID 3.21", "cancelled at step 40 of 200"… */
  detail: string;
  /** The Slurm job that runs (or ran) it, or null (local). */
  job: string | null;
  /** Its log, relative to the eval run folder, or null. */
  log: string | null;
}

export interface EvalStatus {
  runDir: string;
  /** The eval manifest's status (running, submitted, finished…). */
  status: string;
  launcher: "local" | "slurm";
  /** False when the eval is on Slurm but squeue is not available here (job states unknown). */
  slurmVisible: boolean;
  rows: StatusRow[];
}

/** The step of the newest record in a training's metrics.jsonl (reads only the file's tail). */
export function lastLoggedStep(runDir: string): number {
  const file = path.join(runDir, RUN_FILES.metrics);
  if (!fs.existsSync(file)) return 0;
  const size = fs.statSync(file).size;
  const len = Math.min(size, 8192);
  const buf = Buffer.alloc(len);
  const fd = fs.openSync(file, "r");
  try {
    fs.readSync(fd, buf, 0, len, size - len);
  } finally {
    fs.closeSync(fd);
  }
  const lines = buf.toString("utf8").split("\n").filter((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const step = (JSON.parse(lines[i]) as { step?: unknown }).step;
      if (typeof step === "number") return step;
    } catch {
      /* a partial first line of the tail, or a line being written */
    }
  }
  return 0;
}

function slurmState(state: string | undefined, squeue: boolean): { state: ItemState; what: string } {
  if (!squeue) return { state: "unknown", what: "squeue is not available here" };
  if (state === undefined) return { state: "failed", what: "ended" };
  if (state === "PENDING" || state === "REQUEUED" || state === "REQUEUE_HOLD" || state === "SUSPENDED") return { state: "queued", what: state.toLowerCase() };
  if (isLive(state)) return { state: "running", what: state.toLowerCase() };
  return { state: "failed", what: state.toLowerCase() };
}

function trainingRow(evalDir: string, rel: string, steps: number, task: { job: string; log: string } | undefined, states: Map<string, string> | null): StatusRow {
  const dir = path.join(evalDir, rel);
  const hasManifest = fs.existsSync(path.join(dir, RUN_FILES.manifest));
  const m = hasManifest ? readManifest(dir) : null;
  const step = hasManifest ? lastLoggedStep(dir) : 0;
  const row: StatusRow = { item: rel, kind: "training", state: "not started", detail: "", job: task?.job ?? null, log: task?.log ?? null };
  if (m && m.status === "finished" && (m.step ?? 0) >= steps) return { ...row, state: "done", detail: `${m.step} steps` };
  const progress = `step ${step} of ${steps}`;
  if (task) {
    const s = slurmState(states?.get(task.job), states !== null);
    if (s.state === "running") return { ...row, state: "running", detail: progress };
    if (s.state === "queued") return { ...row, state: "queued", detail: step > 0 ? `${s.what}; ${progress} so far` : s.what };
    if (s.state === "unknown") return { ...row, state: "unknown", detail: `${s.what}; ${progress}` };
    return { ...row, state: "failed", detail: step > 0 ? `${s.what} at ${progress}` : `${s.what} before its first step` };
  }
  if (!m) return row;
  if (m.status === "running" && lockOwner(dir) !== null) return { ...row, state: "running", detail: progress };
  return { ...row, state: m.status === "failed" ? "failed" : "interrupted", detail: progress };
}

export function evalStatus(evalRun: string): EvalStatus {
  const runDir = path.resolve(evalRun);
  const manifestFile = path.join(runDir, RUN_FILES.manifest);
  if (!fs.existsSync(manifestFile) || !fs.existsSync(path.join(runDir, RUN_FILES.config)) || readManifest(runDir).kind !== "eval") {
    throw new UsageError(`${evalRun}: not a diffx eval run (no ${RUN_FILES.manifest} of kind "eval" with a ${RUN_FILES.config})`);
  }
  const manifest = readManifest(runDir);
  const { config } = loadConfig(path.join(runDir, RUN_FILES.config));
  const evalDir = path.join(runDir, RUN_FILES.eval);
  const { variants, trainings } = resolveVariants(config);
  const records = readSubmissions(evalDir);
  const onSlurm = records.length > 0;
  const states = onSlurm ? jobStates() : null;
  const latest = latestTrainingJobs(records);
  const rows: StatusRow[] = [];
  for (let fold = 0; fold < config.eval.folds; fold++) {
    for (const t of trainings) {
      const rel = `fold-${fold}/${t.name}`;
      rows.push(trainingRow(evalDir, rel, t.config.train.steps, latest.get(rel), states));
    }
  }
  // the cells and the report: done from their files, else in the hands of the final job
  const finish = onSlurm ? records[records.length - 1].finish.job : null;
  const pending = (): Pick<StatusRow, "state" | "detail" | "job" | "log"> => {
    if (finish === null) return { state: manifest.status === "running" && lockOwner(runDir) !== null ? "running" : "not started", detail: "", job: null, log: null };
    const s = slurmState(states?.get(finish), states !== null);
    const detail = s.state === "queued" ? "waiting for the trainings" : s.state === "running" ? "sampling and scoring" : s.what;
    return { state: s.state, detail, job: finish, log: finishLog(finish) };
  };
  const finishedReport = manifest.status === "finished" && fs.existsSync(path.join(evalDir, "report.json"));
  for (let fold = 0; fold < config.eval.folds; fold++) {
    for (const v of variants) {
      const rel = `fold-${fold}/${v.name}`;
      const cellFile = path.join(evalDir, rel, "cell.json");
      if (fs.existsSync(cellFile)) {
        const fid = (JSON.parse(fs.readFileSync(cellFile, "utf8")) as { scores?: { fid?: number } }).scores?.fid;
        rows.push({ item: rel, kind: "cell", state: "done", detail: typeof fid === "number" ? `FID ${fid.toPrecision(5)}` : "", job: finish, log: finish ? finishLog(finish) : null });
      } else rows.push({ item: rel, kind: "cell", ...pending() });
    }
  }
  rows.push(finishedReport ? { item: "report", kind: "report", state: "done", detail: "eval/report.html", job: finish, log: finish ? finishLog(finish) : null } : { item: "report", kind: "report", ...pending() });
  // log paths are relative to the eval folder in the record; relative to the run folder here
  for (const r of rows) if (r.log) r.log = path.join(RUN_FILES.eval, r.log);
  return { runDir, status: manifest.status, launcher: onSlurm ? "slurm" : "local", slurmVisible: !onSlurm || states !== null, rows };
}
