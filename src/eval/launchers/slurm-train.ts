/**
 * `diffx train CONFIG --launcher slurm [--devices N]`: one Slurm job on one node holding N GPUs
 * (`--gres=gpu:N` when launcher.gres is auto) that runs the ordinary data-parallel training there.
 *
 * The run folder is made at submission, so its path is known at once: it holds the resolved
 * config as `slurm/config.yaml` (the config and its --set overrides as they were when submitted),
 * the script `slurm/train.sbatch` and the logs `slurm/train-<job>.log`. The job starts the run
 * in that folder, or, when it already holds one (requeued, preempted, resubmitted with
 * `diffx train --resume RUN --launcher slurm`), resumes it from its last checkpoint.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { loadConfig } from "../../config/load.js";
import type { Config, LauncherConfig } from "../../config/schema.js";
import { UsageError } from "../../errors.js";
import { writeFileAtomic } from "../../engine/atomic.js";
import type { ProgressSink } from "../../engine/progress.js";
import { createRunDir, requireRunDir, RUN_FILES, utcStamp } from "../../runs/folder.js";
import { lockOwner, inUseError } from "../../runs/lock.js";
import { readManifest } from "../../runs/manifest.js";
import { PACKAGE_ROOT } from "../../runs/version.js";
import { requireSlurm, sbatch } from "./slurm-client.js";
import { slurmGpuCount } from "./slurm-devices.js";
import { gresFor, renderSbatchScript, shellQuote } from "./slurm-script.js";
import type { ScriptFile } from "./slurm-eval.js";
import type { DeviceRequest } from "../../export/cuda-provider.js";

export interface SlurmTrainOptions {
  configFile?: string;
  sets?: string[];
  resume?: string;
  runDir?: string;
  runsRoot?: string;
  /** --devices (default train.devices). */
  devices?: string;
  /** --device (default engine.device): cpu asks Slurm for no GPUs. */
  device?: DeviceRequest;
  backend?: "tensorflow" | "wasm" | "cpu";
  launcher: LauncherConfig;
  dryRun?: boolean;
  cwd?: string;
  progress: ProgressSink;
}

export interface SlurmTrainSubmission {
  runDir: string;
  dryRun: boolean;
  script: ScriptFile;
  /** The job id (null in a dry run). */
  job: string | null;
}

export const SLURM_CONFIG = "slurm/config.yaml";

export function trainJobScript(o: { runDir: string; cwd: string; config: Config; launcher: LauncherConfig; devices: string | null; device?: DeviceRequest; gpus: number | null; backend?: string }): string {
  const diffx = [process.execPath, path.join(PACKAGE_ROOT, "bin", "diffx.js"), ...(o.backend ? ["--backend", o.backend] : [])].map(shellQuote).join(" ");
  const extra = `${o.devices !== null ? ` --devices ${shellQuote(o.devices)}` : ""}${o.device !== undefined ? ` --device ${o.device}` : ""}${o.launcher.cpus_per_task !== undefined ? ' --threads "$SLURM_CPUS_PER_TASK"' : ""}`;
  return renderSbatchScript({
    jobName: `diffx-${o.config.name}`,
    about: [
      `diffx train ${o.config.name}: ${o.config.train.steps} steps${o.gpus !== null ? ` on ${o.gpus} GPU${o.gpus === 1 ? "" : "s"} of one node` : ""}.`,
      `Run folder: ${o.runDir}`,
      `It starts the run from ${SLURM_CONFIG} (the config as submitted), or resumes it from its last`,
      "checkpoint when the folder already holds it (a requeued, preempted or resubmitted job).",
    ],
    log: path.join(o.runDir, "slurm", "train-%j.log"),
    gres: gresFor(o.launcher, o.gpus),
    launcher: o.launcher,
    cwd: o.cwd,
    body: [
      `RUN=${shellQuote(o.runDir)}`,
      `if [ -f "$RUN/${RUN_FILES.manifest}" ]; then`,
      `  exec ${diffx} train --resume "$RUN"${extra}`,
      "else",
      `  exec ${diffx} train "$RUN/${SLURM_CONFIG}" --run-dir "$RUN"${extra}`,
      "fi",
    ],
  });
}

export function submitTrainingToSlurm(o: SlurmTrainOptions): SlurmTrainSubmission {
  if (!o.dryRun) requireSlurm("diffx train --launcher slurm");
  const cwd = path.resolve(o.cwd ?? process.cwd());
  let config: Config;
  let runDir: string;
  let created = false;
  if (o.resume) {
    runDir = requireRunDir(o.resume);
    config = loadConfig(path.join(runDir, RUN_FILES.config)).config;
    const m = readManifest(runDir);
    if (m.status === "finished" && (m.step ?? 0) >= config.train.steps) throw new UsageError(`${runDir}: the run already finished (${config.train.steps} steps); nothing to resume`);
    const owner = lockOwner(runDir);
    if (owner) throw inUseError(runDir, owner);
  } else {
    if (!o.configFile) throw new UsageError("give a CONFIG file or --resume RUN");
    config = loadConfig(o.configFile, o.sets ?? []).config;
    const runsRoot = path.resolve(cwd, o.runsRoot ?? "runs");
    if (o.dryRun) runDir = o.runDir ? path.resolve(o.runDir) : path.join(runsRoot, `${config.name}-${utcStamp(new Date())}`);
    else {
      runDir = createRunDir(runsRoot, config.name, o.runDir);
      created = true;
    }
  }
  const devices = o.devices ?? null;
  const onCpu = (o.device ?? config.engine.device) === "cpu";
  const gpus = o.launcher.gres === "auto" && !onCpu ? slurmGpuCount(o.devices ?? config.train.devices, o.devices !== undefined ? "--devices" : "train.devices") : null;
  const file = path.join(runDir, "slurm", "train.sbatch");
  const text = trainJobScript({ runDir, cwd, config, launcher: o.launcher, devices, device: o.device, gpus, backend: o.backend });
  const command = ["sbatch", "--parsable", file].map(shellQuote).join(" ");
  if (o.dryRun) return { runDir, dryRun: true, script: { file, text, command }, job: null };
  try {
    if (created) writeFileAtomic(path.join(runDir, SLURM_CONFIG), stringify(config));
    writeFileAtomic(file, text);
    const job = sbatch(file);
    fs.appendFileSync(path.join(runDir, "slurm", "jobs.jsonl"), JSON.stringify({ submitted: new Date().toISOString(), job, script: "slurm/train.sbatch", log: `slurm/train-${job}.log` }) + "\n");
    return { runDir, dryRun: false, script: { file, text, command }, job };
  } catch (err) {
    if (created) fs.rmSync(runDir, { recursive: true, force: true }); // a run folder without a job would be a puzzle
    throw err;
  }
}
