/**
 * The stage re-runs `diffx verify` needs, wired to the real implementations (dataset
 * generation, training, the end-of-training sample grid, eval). src/runs/verify.ts sits below
 * those layers, so the CLI hands them in. Modules that load tfjs are imported when a stage
 * first needs them, so usage errors come back at once.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../config/load.js";
import { buildDataset, openDataset } from "../data/build.js";
import { loadDataset, verifyDataset } from "../data/dataset.js";
import { RuntimeFailure } from "../errors.js";
import { Tokenizer } from "../model/tokenizer.js";
import { RUN_FILES } from "../runs/folder.js";
import type { StageRunners } from "../runs/verify.js";
import { networkWeights } from "../train/adapter.js";
import { TIMING_FIELDS } from "../train/metrics-log.js";
import { subset } from "../train/training-set.js";

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new RuntimeFailure(`${file}: unreadable (${(err as Error).message})`);
  }
}

export const stageRunners: StageRunners = {
  timingFields: TIMING_FIELDS,

  buildDataset(config, outDir, progress) {
    const r = buildDataset(config.dataset, outDir, { progress });
    return { dir: r.dir, hash: r.hash, files: loadDataset(outDir).manifest.files };
  },

  checkDataset(dir) {
    const v = verifyDataset(dir);
    return { dir, hash: v.hash, files: loadDataset(dir).manifest.files, changed: v.changed, missing: v.missing };
  },

  async startBackend(name, config) {
    const { initBackend } = await import("../engine/backend.js");
    const b = await initBackend(name ?? config.engine.backend, { threads: config.engine.threads });
    return { name: b.name, version: b.version, threads: b.threads, workers: 1 };
  },

  async train(o) {
    const { runTraining } = await import("../train/run.js");
    const r = await runTraining({ configFile: o.configFile, runDir: o.runDir, cwd: o.cwd, backend: o.backend, devices: o.devices, stopAt: o.stopAt, finish: o.finish, progress: o.progress, signal: o.signal });
    return { step: r.step, interrupted: r.interrupted };
  },

  async sampleGrid(o) {
    const { writeSampleGrid } = await import("../train/run.js");
    const { loadTrainingSet } = await import("../train/load-training-set.js");
    const { config } = loadConfig(path.join(o.runDir, RUN_FILES.config));
    const R = config.model.resolution;
    const all = await loadTrainingSet(openDataset(config.dataset, { cwd: o.cwd, progress: o.progress }), R);
    const split = readJson(path.join(o.runDir, RUN_FILES.split)) as { train: number[] };
    const data = subset(all, split.train, R);
    const tokFile = path.join(o.runDir, RUN_FILES.tokenizer);
    const tokenizer = config.model.conditioning === "text" ? Tokenizer.fromJSON(readJson(tokFile), tokFile) : null;
    const { step, params, lora } = networkWeights(o.runDir, config, tokenizer?.size ?? 0, true);
    await writeSampleGrid(o.file, config, params, tokenizer, data, lora);
    return { step };
  },

  async evalRun(o) {
    const { runEval } = await import("../eval/index.js"); // only eval runs need it
    const r = await runEval({ configFile: path.join(o.runDir, RUN_FILES.config), runDir: o.outDir, fresh: true, cwd: o.cwd, backend: o.backend, progress: o.progress, signal: o.signal });
    return { interrupted: r.interrupted };
  },
};
