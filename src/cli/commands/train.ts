/** `diffx train CONFIG` / `diffx train --resume RUN`. */
import * as path from "node:path";
import { Option, type Command } from "commander";
import { DEVICE_REQUESTS, type DeviceRequest } from "../../export/cuda-provider.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";
import { collectSets } from "./config.js";
import { withInterrupt } from "../interrupt.js";
import { UsageError } from "../../errors.js";
import { scriptsText, shown } from "./launch-output.js";

interface TrainOpts {
  set: string[];
  runDir?: string;
  resume?: string;
  devices?: string;
  device?: DeviceRequest;
  untilStep?: string;
  threads?: string;
  launcher?: "local" | "slurm";
  dryRun?: boolean;
}

/**
 * The checks `train` and `pretrain` share: CONFIG or --resume (not both, no --set on a resume),
 * and --until-step / --threads as positive whole numbers. `want` names what CONFIG should be.
 */
export function checkTrainArgs(command: string, config: string | undefined, opts: { set: string[]; resume?: string; untilStep?: string; threads?: string }, want: string): { stopAt?: number; threads?: number } {
  if (config && opts.resume) throw new UsageError("give either CONFIG or --resume RUN, not both");
  if (!config && !opts.resume) throw new UsageError(`give ${want} or --resume RUN`);
  if (opts.resume && opts.set.length) {
    throw new UsageError(`--set cannot change a run being resumed (its config.yaml is used as recorded, and verify re-runs it); to train with other settings, start a new run: diffx ${command} ${path.join(opts.resume, "config.yaml")} ${opts.set.map((s) => `--set ${s}`).join(" ")}`);
  }
  const stopAt = opts.untilStep === undefined ? undefined : Number(opts.untilStep);
  if (stopAt !== undefined && !(Number.isInteger(stopAt) && stopAt > 0)) throw new UsageError(`--until-step ${opts.untilStep}: expected a positive whole number`);
  const threads = opts.threads === undefined ? undefined : Number(opts.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new UsageError(`--threads ${opts.threads}: expected a positive whole number`);
  return { stopAt, threads };
}

export function registerTrain(program: Command): void {
  program
    .command("train [config]")
    .description("train a conditional diffusion model (writes runs/<name>-<time>/)")
    .option("--set <key=value>", "override a config key (repeatable)", collectSets, [] as string[])
    .option("--run-dir <dir>", "run folder (default runs/<name>-<UTC time>)")
    .option("--resume <run>", "continue an interrupted run from its last checkpoint")
    .option("--devices <devices>", "N, auto, or a GPU list like 0,3,5 (default: train.devices)")
    .addOption(new Option("--device <device>", "where onnxruntime computes the gradients (default: engine.device)").choices(DEVICE_REQUESTS))
    .option("--threads <n>", "CPU threads for this process (default: engine.threads)")
    .option("--until-step <k>", "stop after step K of the schedule with a checkpoint (continue later with --resume)")
    .addOption(new Option("--launcher <kind>", "run here (local), or submit one Slurm job on one node holding the --devices GPUs (slurm) (default: launcher.kind)").choices(["local", "slurm"]))
    .option("--dry-run", "with --launcher slurm: print the batch script, submit nothing")
    .action(async (config: string | undefined, opts: TrainOpts, cmd: Command) => {
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const { stopAt, threads } = checkTrainArgs("train", config, opts, "a CONFIG file (e.g. configs/quickstart.yaml)");
      const { trainLauncher } = await import("../../eval/launchers/choose.js");
      const launcher = trainLauncher({ launcher: opts.launcher, configFile: config, sets: opts.set, resume: opts.resume });
      if (launcher.kind === "slurm") {
        if (stopAt !== undefined || threads !== undefined) throw new UsageError("--until-step and --threads are for a training run here; with --launcher slurm the job takes launcher.cpus_per_task threads and runs to the end");
        const { submitTrainingToSlurm } = await import("../../eval/launchers/slurm-train.js");
        const s = submitTrainingToSlurm({ configFile: config, sets: opts.set, resume: opts.resume, runDir: opts.runDir, devices: opts.devices, device: opts.device, backend: g.backend, launcher, dryRun: opts.dryRun, progress: rep });
        const human = s.dryRun
          ? `${scriptsText([s.script])}\n\ndry run: nothing was written or submitted\nrun: ${s.runDir}`
          : `submitted Slurm job ${s.job}\nrun: ${s.runDir}\nlog: ${shown(path.join(s.runDir, "slurm", `train-${s.job}.log`))}\nif the job ends early, continue with: diffx train --resume ${shown(s.runDir)} --launcher slurm`;
        rep.result(human, s);
        return;
      }
      if (opts.dryRun) throw new UsageError("--dry-run prints the Slurm batch script: use it with --launcher slurm (or launcher.kind: slurm)");
      const { runTraining } = await import("../../train/run.js"); // loaded lazily: tfjs is slow to import
      const r = await withInterrupt(rep, (signal) =>
        runTraining({ configFile: config, sets: opts.set, resume: opts.resume, runDir: opts.runDir, backend: g.backend, devices: opts.devices, device: opts.device, threads, progress: rep, signal, stopAt }),
      );
      const resumeHint = `continue with: diffx train --resume ${r.runDir}`;
      const status = r.interrupted
        ? `interrupted at step ${r.step}; ${resumeHint}`
        : r.step < r.config.train.steps
          ? `stopped at step ${r.step} of ${r.config.train.steps}; ${resumeHint}`
          : `finished ${r.step} steps`;
      rep.result(`${status}\nrun: ${r.runDir}\nbackend: ${r.backend.name} (${r.backend.threads} thread${r.backend.threads === 1 ? "" : "s"}${r.backend.threadsNote === undefined ? "" : `: ${r.backend.threadsNote}`})`, { run: r.runDir, step: r.step, interrupted: r.interrupted, backend: r.backend.name });
      if (r.interrupted) process.exitCode = 130;
    });
}
