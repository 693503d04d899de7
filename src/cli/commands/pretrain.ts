/** `diffx pretrain CONFIG` / `diffx pretrain --resume RUN`: train a base model, score it, write its folder. */
import * as path from "node:path";
import { Option, type Command } from "commander";
import { DEVICE_REQUESTS, type DeviceRequest } from "../../export/cuda-provider.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";
import { collectSets } from "./config.js";
import { checkTrainArgs } from "./train.js";
import { withInterrupt } from "../interrupt.js";
import { DIFFX_VERSION } from "../../runs/version.js";
import { readManifest } from "../../runs/manifest.js";

interface PretrainOpts {
  set: string[];
  runDir?: string;
  resume?: string;
  out?: string;
  devices?: string;
  device?: DeviceRequest;
  threads?: string;
  untilStep?: string;
}

export function registerPretrain(program: Command): void {
  program
    .command("pretrain [config]")
    .description("pretrain a base model on a procedural corpus (a config with a pretrain section), score it on a procedural held-out set and write the base folder (default: the shipped src/train/bases/<name>)")
    .option("--set <key=value>", "override a config key (repeatable)", collectSets, [] as string[])
    .option("--run-dir <dir>", "run folder (default runs/<name>-<UTC time>)")
    .option("--resume <run>", "continue an interrupted pretraining run from its last checkpoint")
    .option("--out <dir>", "base folder to write (default: the --out the run was started with, else src/train/bases/<pretrain.base> of this diffx)")
    .option("--devices <devices>", "N, auto, or a GPU list like 0,3,5 (default: train.devices)")
    .addOption(new Option("--device <device>", "where onnxruntime computes the gradients (default: engine.device)").choices(DEVICE_REQUESTS))
    .option("--threads <n>", "CPU threads for this process (default: engine.threads)")
    .option("--until-step <k>", "stop after step K with a checkpoint (continue later with --resume)")
    .action(async (config: string | undefined, opts: PretrainOpts, cmd: Command) => {
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const { stopAt, threads } = checkTrainArgs("pretrain", config, opts, "a pretraining CONFIG (e.g. configs/pretrain-art-32.yaml)");
      const { runPretrain, writeBaseFromRun, defaultBaseDir } = await import("../../train/pretrain.js"); // lazily: tfjs is slow to import
      const { scoreBase } = await import("../../eval/base-scores.js");
      const r = await withInterrupt(rep, (signal) =>
        runPretrain({ configFile: config, sets: opts.set, resume: opts.resume, runDir: opts.runDir, backend: g.backend, devices: opts.devices, device: opts.device, threads, progress: rep, signal, stopAt, baseOut: opts.out !== undefined && !opts.resume ? path.resolve(opts.out) : undefined }),
      );
      if (r.interrupted || r.step < r.config.train.steps) {
        const why = r.interrupted ? `interrupted at step ${r.step}` : `stopped at step ${r.step} of ${r.config.train.steps}`;
        rep.result(`${why}; continue with: diffx pretrain --resume ${r.runDir}\nrun: ${r.runDir}`, { run: r.runDir, step: r.step, interrupted: r.interrupted });
        if (r.interrupted) process.exitCode = 130;
        return;
      }
      const name = r.config.pretrain?.base ?? r.config.name;
      // --out, else the --out the run was started with (a resume must not fall back to the shipped folder), else the shipped folder
      const out = path.resolve(opts.out ?? readManifest(r.runDir).base_out ?? defaultBaseDir(name));
      rep.info(`scoring the base on its procedural held-out set (${r.config.pretrain?.heldout_n} pairs, ${r.config.sample.sampler}-${r.config.sample.steps})`);
      const scores = await scoreBase(r.runDir, { backend: g.backend, progress: rep });
      const meta = writeBaseFromRun(r.runDir, out, { ...scores }, DIFFX_VERSION);
      const tc = scores.text_control;
      const lines = [
        `finished ${r.step} steps; run: ${r.runDir}`,
        `wrote base '${name}' to ${out} (weights sha256 ${meta.weights.sha256})`,
        `held-out (${scores.n_real} real, ${scores.n_generated} generated): FID ${scores.fid.toFixed(2)}, KID ${scores.kid.toFixed(4)}`,
        ...(tc ? [`text control ${(tc.success_rate * 100).toFixed(1)} % (classifier on the real images: ${(tc.real_success_rate * 100).toFixed(1)} %)`] : []),
        ...(scores.sketch_fidelity ? [`sketch fidelity F1 ${scores.sketch_fidelity.f1.toFixed(3)} (real ${scores.sketch_fidelity.real_f1.toFixed(3)})`] : []),
      ];
      rep.result(lines.join("\n"), { run: r.runDir, step: r.step, base: out, sha256: meta.weights.sha256, scores });
    });
}
