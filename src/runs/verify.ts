/**
 * `diffx verify RUN` as a library function: prove that a run folder is what its manifest says
 * and that its recorded stages reproduce.
 *
 * 1. files: every output listed in manifest.json is present with its sha256, nothing else is
 *    there, config.yaml hashes to the recorded config hash (src/runs/verify-files.ts).
 * 2. The requested stages are re-run from the run's own config.yaml in a temporary folder
 *    (removed afterwards) and compared with the record (src/runs/verify-compare.ts):
 *    - data: the dataset is generated again; its hash (and every file hash) must match;
 *    - train: the training is run again (all recorded steps, or the first K with `steps`);
 *      metrics.jsonl records (without timing fields), checkpoints at common steps (by the
 *      hashes in manifest.checkpoints, so pruned checkpoints count too) and the other
 *      training outputs are compared;
 *    - sample: samples/grid.png is generated again from the final checkpoint's EMA weights;
 *    - eval: the k-fold evaluation is run again; report.json is compared value by value and
 *      every other output (fold trainings, samples, features, scores) file by file; measured
 *      sampling times (every `cost` but its NFE, and the cost plots) are left out (measured.ts).
 *    Exact (sha256) when the run was recorded on a deterministic backend and is re-run on the
 *    same backend, version, thread and worker count; numbers within verify.rtol otherwise
 *    (src/runs/verify-env.ts).
 *
 * The re-runs themselves (training, dataset generation, sampling, eval) live in layers above
 * this one, so the caller passes them in as `StageRunners` (the CLI wires the real ones).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Config } from "../config/schema.js";
import { loadConfig } from "../config/load.js";
import type { BackendName } from "../engine/backend.js";
import type { ProgressSink } from "../engine/progress.js";
import { DiffxError, RuntimeFailure, UsageError } from "../errors.js";
import { RUN_FILES, requireRunDir } from "./folder.js";
import { gitCommit, lockfileHash, manifestPath, readManifest, type RunManifest } from "./manifest.js";
import { describeOwner, lockOwner } from "./lock.js";
import { DIFFX_VERSION } from "./version.js";
import { checkRunFiles } from "./verify-files.js";
import { compareJsonValues, compareOutputFile, MismatchList, type FileCompareContext } from "./verify-compare.js";
import { chooseComparison, environmentNotes } from "./verify-env.js";
import { compareTrees } from "./verify-tree.js";
import { withoutMeasurements } from "./measured.js";
import { shortHash, VERIFY_STAGES, type BackendInfo, type CheckReport, type Comparison, type Mismatch, type VerifyReport, type VerifyStage } from "./verify-types.js";

export interface DatasetRecord {
  /** The dataset folder. */
  dir: string;
  hash: string;
  /** sha256 of every file by path inside the folder. */
  files: Record<string, string>;
}

export interface TrainRerunOptions {
  configFile: string;
  runDir: string;
  /** Dataset folders are resolved against this. */
  cwd: string;
  /** Undefined: the config's engine.backend. */
  backend?: BackendName;
  /** Training devices (`--devices`): the recorded worker count, so the re-run splits batches the same way. */
  devices?: string;
  stopAt: number;
  /** Write the end-of-training plots and sample grid. */
  finish: boolean;
  progress: ProgressSink;
  signal?: AbortSignal;
}

export interface EvalRerunOptions {
  /** The recorded run folder (its config.yaml is used). */
  runDir: string;
  /** Where the re-run writes its own run folder; the report is at `<outDir>/eval/report.json`. */
  outDir: string;
  cwd: string;
  backend?: BackendName;
  progress: ProgressSink;
  signal?: AbortSignal;
}

/** The stage implementations verify re-runs (they live in the data, train, sample and eval layers). */
export interface StageRunners {
  /** Fields of metrics.jsonl records that depend on wall-clock time (left out of comparisons). */
  timingFields: readonly string[];
  /** Generate the dataset `config.dataset` describes into `outDir`. */
  buildDataset(config: Config, outDir: string, progress: ProgressSink): DatasetRecord;
  /** An existing dataset folder (kind folder) checked against its own manifest. */
  checkDataset(dir: string): DatasetRecord & { changed: string[]; missing: string[] };
  /** Select and start the tfjs backend (`undefined`: the config's engine.backend). */
  startBackend(name: BackendName | undefined, config: Config): Promise<BackendInfo>;
  train(o: TrainRerunOptions): Promise<{ step: number; interrupted: boolean }>;
  /** Regenerate `runDir`'s samples/grid.png from its latest checkpoint's EMA weights into `file`. */
  sampleGrid(o: { runDir: string; file: string; cwd: string; progress: ProgressSink }): Promise<{ step: number }>;
  /** Re-run the run's k-fold evaluation; absent while eval is not available. */
  evalRun?: (o: EvalRerunOptions) => Promise<{ interrupted: boolean }>;
}

export interface VerifyOptions {
  run: string;
  /** Default "all": every stage the run recorded. */
  stage?: VerifyStage | "all";
  /** Re-run only the first K training steps. */
  steps?: number;
  /** Re-run on this backend (default: the recorded one, else the config's engine.backend). */
  backend?: BackendName;
  progress: ProgressSink;
  signal?: AbortSignal;
  runners: StageRunners;
  /** Parent of the temporary folder (default: the OS temp folder). */
  tmpRoot?: string;
}

const GRID = "samples/grid.png";
const LOSS_PNG = "plots/loss.png";
export const EVAL_REPORT = "eval/report.json";
const CHECKPOINT_FILE = /^checkpoints\/step-(\d+)\/([^/]+)$/;
const BACKEND_NAMES: readonly string[] = ["tensorflow", "wasm", "cpu"];

/** Training outputs compared by the train stage (checkpoints are compared separately). */
function trainFiles(full: boolean): string[] {
  const always = [RUN_FILES.config, "split.json", "tokenizer.json", RUN_FILES.metrics];
  return full ? [...always, "plots/loss.svg", LOSS_PNG, GRID] : always;
}

/** Which stages `stage` asks for, checked against what the run recorded (UsageError if impossible). */
function plannedStages(o: VerifyOptions, m: RunManifest, runDir: string): VerifyStage[] {
  const stage = o.stage ?? "all";
  if (stage !== "all" && !(VERIFY_STAGES as readonly string[]).includes(stage)) {
    throw new UsageError(`--stage ${String(stage)}: expected one of ${[...VERIFY_STAGES, "all"].join(", ")}`);
  }
  const recordedStep = m.step ?? 0;
  if (o.steps !== undefined) {
    if (stage !== "all" && stage !== "train") throw new UsageError(`--steps applies to the train stage; it cannot be used with --stage ${stage}`);
    if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > recordedStep) {
      throw new UsageError(`--steps ${o.steps}: out of range; ${runDir} recorded ${recordedStep === 0 ? "no training steps" : `steps 1…${recordedStep}`}`);
    }
  }
  const available: Record<VerifyStage, string | null> = {
    data: m.dataset_hash === null ? "the run records no dataset hash" : null,
    train: m.kind === "eval" ? "an eval run's trainings are re-run by --stage eval" : m.kind !== "train" ? `the run is a ${m.kind} run` : recordedStep < 1 ? "the run has no checkpoint yet" : null,
    sample: !(GRID in m.outputs) ? `the run has no ${GRID} (train.sample_grid is 0, or training did not finish)` : null,
    eval: !(EVAL_REPORT in m.outputs) ? `the run has no ${EVAL_REPORT} (it is not an eval run)` : o.runners.evalRun === undefined ? "this diffx cannot re-run evaluations yet" : null,
  };
  if (stage === "all") return VERIFY_STAGES.filter((s) => available[s] === null);
  const why = available[stage];
  if (why !== null) throw new UsageError(`--stage ${stage}: nothing to verify: ${why}`);
  return [stage];
}

/** A run being written by a live diffx process cannot be verified. */
function refuseLiveRun(runDir: string): void {
  const owner = lockOwner(runDir); // the run lock's own rule: alive here, or on another host
  if (owner !== null) throw new UsageError(`${runDir}: in use by another diffx process (${describeOwner(owner)}); verify it when that process has finished`);
}

interface Session {
  o: VerifyOptions;
  runDir: string;
  manifest: RunManifest;
  config: Config;
  tmp: string;
  backend: { name: BackendName | undefined; info: BackendInfo } | null;
  notes: string[];
}

async function ensureBackend(s: Session): Promise<{ name: BackendName | undefined; info: BackendInfo }> {
  if (s.backend) return s.backend;
  const { o, manifest, config } = s;
  let name: BackendName | undefined = o.backend;
  if (name === undefined && manifest.backend && BACKEND_NAMES.includes(manifest.backend.name)) name = manifest.backend.name as BackendName;
  try {
    s.backend = { name, info: await o.runners.startBackend(name, config) };
  } catch (err) {
    if (o.backend !== undefined || name === undefined || !(err instanceof DiffxError)) throw err;
    s.notes.push(`the recorded backend '${name}' cannot start here (${err.message}); re-running on engine.backend '${config.engine.backend}'`);
    s.backend = { name: undefined, info: await o.runners.startBackend(undefined, config) };
  }
  return s.backend;
}

function report(check: CheckReport["check"], comparison: Comparison, list: MismatchList, summary: string, notes: string[]): CheckReport {
  return { check, status: list.count > 0 ? "mismatch" : "match", comparison, summary, notes, mismatches: list.count };
}

function verifyData(s: Session, list: MismatchList): CheckReport {
  const { config, manifest, o } = s;
  const notes: string[] = [];
  const expected = manifest.dataset_hash ?? "";
  let rec: DatasetRecord;
  let label: string;
  if (config.dataset.kind === "folder") {
    if (config.dataset.path === undefined) throw new UsageError(`${path.join(s.runDir, RUN_FILES.config)}: dataset.path is missing`);
    o.progress.info(`data: checking the imported dataset ${config.dataset.path} (imported datasets cannot be regenerated)`);
    const r = o.runners.checkDataset(config.dataset.path);
    for (const f of r.changed) list.add(`${config.dataset.path}/${f}`, "", "as in the dataset's manifest.json", "changed");
    for (const f of r.missing) list.add(`${config.dataset.path}/${f}`, "", "as in the dataset's manifest.json", "missing");
    rec = r;
    label = config.dataset.path;
  } else {
    o.progress.info(`data: regenerating dataset ${config.dataset.name} (${config.dataset.kind}, seed ${config.dataset.seed})`);
    rec = o.runners.buildDataset(config, path.join(s.tmp, "datasets", config.dataset.name), o.progress);
    label = `datasets/${config.dataset.name}`;
  }
  if (rec.hash !== expected) {
    const recorded = manifest.dataset_files;
    const before = list.count;
    if (recorded) {
      for (const f of [...new Set([...Object.keys(recorded), ...Object.keys(rec.files)])].sort()) {
        const a = recorded[f];
        const b = rec.files[f];
        if (a !== b) list.add(`${label}/${f}`, "", a ? `sha256 ${shortHash(a)}` : "(not in the recorded dataset)", b ? `sha256 ${shortHash(b)}` : "missing");
      }
    } else notes.push("the run does not record per-file dataset hashes (older manifest): only the dataset hash is compared");
    if (list.count === before) list.add(label, "dataset hash", shortHash(expected), shortHash(rec.hash));
  }
  const n = Object.keys(rec.files).length;
  return report("data", "exact", list, `dataset ${label}: ${n} files, hash ${shortHash(rec.hash)}${rec.hash === expected ? " as recorded" : `, recorded ${shortHash(expected)}`}`, notes);
}

function backendText(b: BackendInfo): string {
  return `${b.name} ${b.version}, ${b.threads} thread${b.threads === 1 ? "" : "s"}`;
}

async function verifyTrain(s: Session, list: MismatchList): Promise<CheckReport> {
  const { o, manifest, runDir } = s;
  const full = o.steps === undefined;
  const K = o.steps ?? (manifest.step as number);
  const backend = await ensureBackend(s);
  const rerun = path.join(s.tmp, "train");
  o.progress.info(full ? `train: re-running all ${K} steps` : `train: re-running the first ${K} of ${manifest.step} steps`);
  const r = await o.runners.train({
    configFile: path.join(runDir, RUN_FILES.config),
    runDir: rerun,
    cwd: s.tmp,
    backend: backend.name,
    devices: manifest.backend ? String(manifest.backend.workers) : undefined,
    stopAt: K,
    finish: full && manifest.status === "finished",
    progress: o.progress,
    signal: o.signal,
  });
  if (r.interrupted) throw new RuntimeFailure("verify interrupted during the training re-run; nothing was compared");
  const rm = readManifest(rerun);
  const here: BackendInfo = rm.backend ? { name: rm.backend.name, version: rm.backend.version, threads: rm.backend.threads, workers: rm.backend.workers } : { ...backend.info, workers: 1 };
  const { comparison, notes } = chooseComparison(manifest.backend, here, true);
  const ctx: FileCompareContext = { comparison, rtol: s.config.verify.rtol, timingFields: o.runners.timingFields, upToStep: K };

  for (const key of ["config_hash", "dataset_hash"] as const) {
    if (rm[key] !== manifest[key]) list.add(RUN_FILES.manifest, key, shortHash(manifest[key] ?? "null"), shortHash(rm[key] ?? "null"));
  }

  let files = 0;
  let values = 0;
  for (const rel of trainFiles(full)) {
    const inRun = rel in manifest.outputs;
    const inRerun = rel in rm.outputs;
    if (!inRun && !inRerun) continue;
    if (rel === LOSS_PNG) {
      notes.push(`${LOSS_PNG} is not compared: it is rendered from plots/loss.svg (which is) by librsvg with the system's fonts`);
      continue;
    }
    if (!inRerun) {
      list.add(rel, "", `sha256 ${shortHash(manifest.outputs[rel])}`, "(not written by the re-run)");
      continue;
    }
    if (!inRun) {
      list.add(rel, "", "(not in the run)", `sha256 ${shortHash(rm.outputs[rel])}`);
      continue;
    }
    if (!fs.existsSync(path.join(runDir, rel))) {
      notes.push(`${rel} is missing from the run folder, so it could not be compared`);
      continue;
    }
    const n = compareOutputFile(rel, path.join(runDir, rel), path.join(rerun, rel), ctx, list);
    if (rel === RUN_FILES.metrics) values = n;
    files++;
  }

  // checkpoints: at every step both wrote (≤ K); pruned ones by their recorded hashes
  const recSteps = manifest.checkpoints ?? {};
  const reSteps = rm.checkpoints ?? {};
  const steps = [...new Set([...Object.keys(recSteps), ...Object.keys(reSteps)])].map(Number).filter((x) => x <= K).sort((a, b) => a - b);
  let checkpoints = 0;
  for (const step of steps) {
    const a = recSteps[String(step)];
    const b = reSteps[String(step)];
    if (!a || !b) {
      if (!a && step === K && !full) notes.push(`the run has no checkpoint at step ${K}: compared metrics.jsonl up to step ${K}`);
      else notes.push(`checkpoint step ${step} exists only in the ${a ? "run (it was stopped or resumed there)" : "re-run"}: not compared`);
      continue;
    }
    checkpoints++;
    let pruned = false;
    for (const f of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const rel = `checkpoints/step-${step}/${f}`;
      if (a[f] === b[f]) continue;
      if (a[f] === undefined || b[f] === undefined) {
        list.add(rel, "", a[f] ? `sha256 ${shortHash(a[f])}` : "(not in the run)", b[f] ? `sha256 ${shortHash(b[f])}` : "(not written by the re-run)");
        continue;
      }
      const onDisk = rel in manifest.outputs && fs.existsSync(path.join(runDir, rel)) && fs.existsSync(path.join(rerun, rel));
      if (comparison === "exact" || !onDisk) {
        if (comparison === "exact") list.add(rel, "", `sha256 ${shortHash(a[f])}`, `sha256 ${shortHash(b[f])}`);
        else pruned = true;
        continue;
      }
      compareOutputFile(rel, path.join(runDir, rel), path.join(rerun, rel), ctx, list);
    }
    if (pruned) notes.push(`checkpoint step ${step} was pruned from the run (only its hashes are kept), so it cannot be compared within tolerance`);
  }
  const what = `${full ? "all" : "the first"} ${K} steps on ${backendText(here)}: metrics.jsonl (${values} values), ${checkpoints} checkpoint${checkpoints === 1 ? "" : "s"}, ${files} files`;
  return report("train", comparison, list, `re-ran ${what}, compared ${comparison === "exact" ? "exactly" : `within rtol ${s.config.verify.rtol}`}`, notes);
}

async function verifySample(s: Session, list: MismatchList): Promise<CheckReport> {
  const { o, runDir, manifest } = s;
  const backend = await ensureBackend(s);
  const { comparison, notes } = chooseComparison(manifest.backend, backend.info, false);
  const file = path.join(s.tmp, "sample", "grid.png");
  o.progress.info(`sample: regenerating ${GRID} from the final checkpoint's EMA weights`);
  const r = await o.runners.sampleGrid({ runDir, file, cwd: s.tmp, progress: o.progress });
  if (!fs.existsSync(path.join(runDir, GRID))) {
    notes.push(`${GRID} is missing from the run folder, so it could not be compared`);
    return report("sample", comparison, list, `regenerated ${GRID} from checkpoints/step-${r.step}/ema.bin`, notes);
  }
  compareOutputFile(GRID, path.join(runDir, GRID), file, { comparison, rtol: s.config.verify.rtol, timingFields: o.runners.timingFields }, list);
  return report("sample", comparison, list, `regenerated ${GRID} from checkpoints/step-${r.step}/ema.bin on ${backendText(backend.info)}, compared ${comparison === "exact" ? "exactly" : `within rtol ${s.config.verify.rtol}`}`, notes);
}

async function verifyEval(s: Session, list: MismatchList): Promise<CheckReport> {
  const { o, runDir, manifest } = s;
  const evalRun = o.runners.evalRun;
  if (!evalRun) throw new UsageError("this diffx cannot re-run evaluations yet");
  const backend = await ensureBackend(s);
  const out = path.join(s.tmp, "eval-run");
  o.progress.info("eval: re-running the k-fold evaluation");
  const r = await evalRun({ runDir, outDir: out, cwd: s.tmp, backend: backend.name, progress: o.progress, signal: o.signal });
  if (r.interrupted) throw new RuntimeFailure("verify interrupted during the eval re-run; nothing was compared");
  const { comparison, notes } = chooseComparison(manifest.backend, backend.info, false);
  const got = path.join(out, EVAL_REPORT);
  const want = path.join(runDir, EVAL_REPORT);
  if (!fs.existsSync(got)) throw new RuntimeFailure(`the eval re-run wrote no ${EVAL_REPORT}`);
  if (!fs.existsSync(want)) {
    notes.push(`${EVAL_REPORT} is missing from the run folder, so it could not be compared`);
    return report("eval", comparison, list, "re-ran the evaluation", notes);
  }
  const rtol = comparison === "exact" ? 0 : s.config.verify.rtol;
  const n = compareJsonValues(reportNumbers(want), reportNumbers(got), rtol, EVAL_REPORT, list);
  const ctx: FileCompareContext = { comparison, rtol: s.config.verify.rtol, timingFields: o.runners.timingFields };
  const tree = compareTrees(runDir, manifest, out, readManifest(out), ctx, evalSkip, list);
  notes.push(...tree.notes);
  const how = comparison === "exact" ? "exactly" : `within rtol ${s.config.verify.rtol}`;
  return report("eval", comparison, list, `re-ran the evaluation: ${n} values in ${EVAL_REPORT} and ${tree.compared} other files (fold trainings, samples, features, scores) compared ${how}`, notes);
}

/** Eval outputs the tree comparison leaves out, and why. */
function evalSkip(rel: string): string | null {
  if (rel === EVAL_REPORT) return "report.json is compared value by value";
  if (rel === "eval/report.md" || rel === "eval/report.html") return "report.md and report.html are rendered from report.json, which records when it was made";
  if (rel === LOSS_PNG || rel.endsWith(`/${LOSS_PNG}`)) return "loss.png is rendered from loss.svg (which is compared) with the system's fonts";
  if (/^eval\/plots\/cost-[^/]+\.svg$/.test(rel)) return "the quality-against-cost plots place each variant at its measured seconds per image";
  return null;
}

/** Top-level report.json fields that say when and by which diffx it was made (environment notes cover them). */
const REPORT_ENVIRONMENT = ["created", "diffx_version", "git_commit"];
/** Nested fields that say whether work was reused from an earlier invocation (a re-run starts fresh). */
const REPORT_PROVENANCE = ["reused"];

/**
 * A report.json without the fields that record when, by which diffx, and whether from reused
 * work it was made, and without its measured sampling times (measured.ts): they differ between
 * a run and its fresh re-run by construction.
 */
export function reportNumbers(file: string): unknown {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new RuntimeFailure(`${file}: unreadable report (${(err as Error).message})`);
  }
  const walk = (v: unknown, top: boolean): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x, false));
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (!(top ? REPORT_ENVIRONMENT : REPORT_PROVENANCE).includes(k)) out[k] = walk(x, false);
      return out;
    }
    return v;
  };
  return withoutMeasurements(walk(data, true));
}

export async function verifyRun(o: VerifyOptions): Promise<VerifyReport> {
  const runDir = requireRunDir(o.run);
  if (!fs.existsSync(manifestPath(runDir))) throw new UsageError(`${o.run}: not a complete run folder (no ${RUN_FILES.manifest})`);
  let manifest: RunManifest;
  try {
    manifest = readManifest(runDir);
  } catch (err) {
    if (err instanceof RuntimeFailure) throw new UsageError(err.message);
    throw err;
  }
  refuseLiveRun(runDir);
  const stages = plannedStages(o, manifest, runDir);

  const checks: CheckReport[] = [];
  const mismatches: Mismatch[] = [];
  const filesList = new MismatchList("files");
  const fc = checkRunFiles(runDir, manifest, filesList);
  checks.push(report("files", "exact", filesList, `${fc.compared} of ${fc.listed} recorded files present and hashed`, fc.notes));
  mismatches.push(...filesList.finish());

  const notes = environmentNotes(manifest, { diffx_version: DIFFX_VERSION, git_commit: gitCommit(), lockfile_sha256: lockfileHash() });
  let config: Config;
  try {
    config = loadConfig(path.join(runDir, RUN_FILES.config)).config;
  } catch (err) {
    if (stages.length === 0 || !(err instanceof DiffxError)) throw err;
    throw new UsageError(`cannot re-run ${runDir}: ${err.message}`);
  }

  const tmp = fs.mkdtempSync(path.join(o.tmpRoot ?? os.tmpdir(), "diffx-verify-"));
  const s: Session = { o, runDir, manifest, config, tmp, backend: null, notes };
  try {
    for (const stage of stages) {
      const list = new MismatchList(stage);
      const r = stage === "data" ? verifyData(s, list) : stage === "train" ? await verifyTrain(s, list) : stage === "sample" ? await verifySample(s, list) : await verifyEval(s, list);
      checks.push(r);
      mismatches.push(...list.finish());
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { run: runDir, ok: checks.every((c) => c.status !== "mismatch"), notes, checks, mismatches };
}
