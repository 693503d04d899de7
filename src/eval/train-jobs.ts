/**
 * The trainings of an eval: one per fold and training plan, in `eval/fold-<i>/<name>/`, each a
 * normal training run folder (config.yaml, manifest.json, checkpoints/…) made from a fully
 * resolved fold config written beside it (`eval/fold-<i>/<name>.yaml`) and the fold's split
 * (written into the folder as split.json before the run starts; the trainer reads it from there).
 *
 * A training whose folder holds a finished run of the same config hash and split is reused; an
 * unfinished one (interrupted, killed) is resumed from its last checkpoint; otherwise it starts.
 * It runs either in this process (runTraining) or as a child process
 * (`node bin/diffx.js train FOLD.yaml --run-dir DIR`), with identical results.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import type { Config } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import { RuntimeFailure, UsageError } from "../errors.js";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.js";
import type { ProgressSink } from "../engine/progress.js";
import { readManifest } from "../runs/manifest.js";
import { RUN_FILES } from "../runs/folder.js";
import { childInOwnGroup } from "../runs/slurm-job.js";
import { PACKAGE_ROOT } from "../runs/version.js";
import { runTraining, SPLIT_FILE } from "../train/run.js";
import { makeDirs } from "../engine/make-dirs.js";

export interface TrainJob {
  fold: number;
  /** "train" or "train-<variant>". */
  name: string;
  /** The run folder (absolute). */
  dir: string;
  /** The run folder relative to the eval folder ("fold-0/train"). */
  rel: string;
  /** The fully resolved fold config file (absolute). */
  configFile: string;
  config: Config;
  split: { train: number[]; held_out: number[] };
}

export type TrainingState = { kind: "finished"; step: number } | { kind: "resume" } | { kind: "new" };

export interface TrainRunner {
  cwd: string;
  backend?: "tensorflow" | "wasm" | "cpu";
  progress: ProgressSink;
  /** Extra environment for a child training (e.g. the device a parallel slot is pinned to). */
  env?: NodeJS.ProcessEnv;
  /** CPU threads for a child training (the cores shared between the parallel slots). */
  threads?: number;
}

/** Write the fold config file; returns the config hash the training run will record. */
export function writeFoldConfig(job: TrainJob): string {
  const text = stringify(job.config);
  if (!fs.existsSync(job.configFile) || fs.readFileSync(job.configFile, "utf8") !== text) writeFileAtomic(job.configFile, text);
  return loadConfig(job.configFile).hash;
}

function sameSplit(a: { train: number[]; held_out: number[] }, b: { train: number[]; held_out: number[] }): boolean {
  return JSON.stringify(a.train) === JSON.stringify(b.train) && JSON.stringify(a.held_out) === JSON.stringify(b.held_out);
}

/**
 * What to do with a job's folder. A folder without a manifest never got past set-up (no
 * checkpoint can exist yet) and is cleared. A folder with another config or split is an error.
 */
export function inspectTraining(job: TrainJob, hash: string): TrainingState {
  if (!fs.existsSync(job.dir)) return { kind: "new" };
  if (!fs.existsSync(path.join(job.dir, RUN_FILES.manifest))) {
    fs.rmSync(job.dir, { recursive: true, force: true });
    return { kind: "new" };
  }
  const m = readManifest(job.dir);
  const mismatch = (what: string): UsageError =>
    new UsageError(`${job.dir} holds a training with a different ${what} than this eval asks for; remove that folder, or start a new eval run with --fresh`);
  if (m.config_hash !== hash) throw mismatch("config");
  const splitFile = path.join(job.dir, SPLIT_FILE);
  if (fs.existsSync(splitFile)) {
    const recorded = JSON.parse(fs.readFileSync(splitFile, "utf8")) as { train: number[]; held_out: number[] };
    if (!sameSplit(recorded, job.split)) throw mismatch("fold split");
  }
  if (m.status === "finished" && (m.step ?? 0) >= job.config.train.steps) return { kind: "finished", step: m.step ?? job.config.train.steps };
  return { kind: "resume" };
}

/** Before a new run: the folder with the fold's split in it. */
function prepareNewRun(job: TrainJob): void {
  makeDirs(job.dir);
  writeJsonAtomic(path.join(job.dir, SPLIT_FILE), job.split);
}

/** Train (or resume) in this process. */
export async function trainInProcess(job: TrainJob, resume: boolean, r: TrainRunner, signal?: AbortSignal): Promise<{ interrupted: boolean }> {
  if (!resume) prepareNewRun(job);
  const result = await runTraining(
    resume
      ? { resume: job.dir, cwd: r.cwd, backend: r.backend, threads: r.threads, progress: r.progress, signal }
      : { configFile: job.configFile, runDir: job.dir, trainRows: job.split.train, heldOutRows: job.split.held_out, cwd: r.cwd, backend: r.backend, threads: r.threads, progress: r.progress, signal },
  );
  return { interrupted: result.interrupted };
}

const BIN = path.join(PACKAGE_ROOT, "bin", "diffx.js");
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Children run in their own process group (so a terminal Ctrl-C reaches them once, through us); stop them if we exit. */
function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const c of liveChildren) c.kill("SIGTERM");
    });
  }
}

/** Train (or resume) as a child process `node bin/diffx.js train …`; its output is forwarded as progress lines. */
export async function trainInChild(job: TrainJob, resume: boolean, r: TrainRunner, signal?: AbortSignal): Promise<{ interrupted: boolean }> {
  if (!fs.existsSync(path.join(PACKAGE_ROOT, "dist", "cli", "main.js"))) {
    throw new RuntimeFailure(`--parallel runs folds as 'diffx train' child processes, which need the built CLI (${path.join(PACKAGE_ROOT, "dist")}); run 'npm run build' first`);
  }
  if (!resume) prepareNewRun(job);
  const args = [BIN, ...(r.backend ? ["--backend", r.backend] : []), "train", ...(r.threads ? ["--threads", String(r.threads)] : []), ...(resume ? ["--resume", job.dir] : [job.configFile, "--run-dir", job.dir])];
  const tag = `[${job.rel}]`;
  const child = spawn(process.execPath, args, { cwd: r.cwd, stdio: ["ignore", "pipe", "pipe"], detached: childInOwnGroup(), env: { ...process.env, ...r.env } });
  trackChild(child);
  const errors: string[] = [];
  const lines = (stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void => {
    let buf = "";
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, "");
        buf = buf.slice(nl + 1);
        if (line.trim()) onLine(line);
      }
    });
  };
  lines(child.stdout, (line) => r.progress.info(`${tag} ${line}`));
  lines(child.stderr, (line) => {
    if (line.startsWith("warning: ")) r.progress.warn(`${tag} ${line.slice("warning: ".length)}`);
    else errors.push(line);
  });
  const onAbort = (): void => {
    child.kill("SIGTERM");
  };
  signal?.addEventListener("abort", onAbort);
  const end = await new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", (err) => reject(new RuntimeFailure(`${tag} cannot start 'diffx train': ${err.message}`)));
    child.once("close", (code, sig) => resolve({ code, sig }));
  });
  signal?.removeEventListener("abort", onAbort);
  if (end.code === 0) return { interrupted: false };
  if (end.code === 130 || (signal?.aborted && (end.sig !== null || (end.code ?? 0) >= 128))) return { interrupted: true };
  const reason = errors.filter((l) => l.startsWith("diffx: ")).map((l) => l.slice("diffx: ".length)).pop() ?? errors.pop() ?? "no message";
  throw new RuntimeFailure(`${tag} training failed (${end.sig ? `killed by ${end.sig}` : `exit ${end.code}`}): ${reason}; its last checkpoint is kept, and re-running the eval resumes it`);
}
