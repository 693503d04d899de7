/** `diffx features train|show`: the domain feature extractor (its weights are committed). */
import * as path from "node:path";
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { committedModelDir, readDomainModel, type DomainModelMeta } from "../../metrics/domain/model-file.js";
import { TRAIN_DEFAULTS } from "../../metrics/domain/train-defaults.js";
import { DIFFX_VERSION } from "../../runs/version.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";

interface TrainOptions {
  out?: string;
  steps: string;
  batchSize: string;
  lr: string;
  seed: string;
  trainImages: string;
  heldoutImages: string;
  threads: string;
}

function integer(text: string, option: string, min: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min) throw new UsageError(`${option} must be an integer ≥ ${min}, got '${text}'`);
  return Number(text);
}

function positiveNumber(text: string, option: string): number {
  const v = Number(text);
  if (text.trim() === "" || !Number.isFinite(v) || v <= 0) throw new UsageError(`${option} must be a positive number, got '${text}'`);
  return v;
}

function accuracyLines(meta: DomainModelMeta): string[] {
  const chance = (meta as { chance?: Record<string, number> }).chance ?? {};
  return Object.entries(meta.accuracy).map(([head, acc]) => `  ${head.padEnd(16)} ${acc.toFixed(3)}${chance[head] !== undefined ? `  (chance ${chance[head].toFixed(3)})` : ""}`);
}

export function registerFeatures(program: Command): void {
  const f = program.command("features").description("the domain feature extractor used for FID/KID and the control metrics");

  f.command("train")
    .description("retrain the domain feature extractor from its procedural reference set (default: rewrites the committed weights)")
    .option("--out <dir>", "folder for weights.bin + weights.json (default: the committed src/metrics/domain)")
    .option("--steps <n>", "training steps", String(TRAIN_DEFAULTS.steps))
    .option("--batch-size <n>", "images per step", String(TRAIN_DEFAULTS.batchSize))
    .option("--lr <rate>", "peak Adam learning rate", String(TRAIN_DEFAULTS.lr))
    .option("--seed <n>", "initialisation and batch-order seed", String(TRAIN_DEFAULTS.seed))
    .option("--train-images <n>", "reference images per generator for training", String(TRAIN_DEFAULTS.trainImages))
    .option("--heldout-images <n>", "reference images per generator for the held-out accuracy", String(TRAIN_DEFAULTS.heldoutImages))
    .option("--threads <n>", "wasm threads: auto or a number", "auto")
    .action(async (opts: TrainOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const rep = new Reporter(g);
      const outDir = path.resolve(opts.out ?? committedModelDir());
      const threads = opts.threads === "auto" ? "auto" : integer(opts.threads, "--threads", 1);
      const { trainDomainNetwork } = await import("../../metrics/domain/train.js");
      const r = await trainDomainNetwork({
        outDir,
        diffxVersion: DIFFX_VERSION,
        steps: integer(opts.steps, "--steps", 1),
        batchSize: integer(opts.batchSize, "--batch-size", 1),
        lr: positiveNumber(opts.lr, "--lr"),
        seed: integer(opts.seed, "--seed", 0),
        trainImages: integer(opts.trainImages, "--train-images", 1),
        heldoutImages: integer(opts.heldoutImages, "--heldout-images", 1),
        backend: g.backend,
        threads,
        progress: rep,
      });
      const m = r.meta;
      const human = [
        `wrote ${path.join(outDir, m.weights.file)} (${m.weights.bytes} bytes, sha256 ${m.weights.sha256}) and weights.json`,
        `backend ${r.backend.name} (${r.backend.threads} thread${r.backend.threads === 1 ? "" : "s"}); reference sets drawn in ${r.seconds.reference.toFixed(1)} s, trained and evaluated in ${r.seconds.training.toFixed(1)} s`,
        "held-out accuracy per head:",
        ...accuracyLines(m),
      ].join("\n");
      rep.result(human, { out: outDir, weights_sha256: m.weights.sha256, bytes: m.weights.bytes, accuracy: m.accuracy, backend: r.backend.name, threads: r.backend.threads, seconds: r.seconds });
    });

  f.command("show")
    .description("print the domain feature extractor's metadata (architecture, reference set, held-out accuracy)")
    .option("--dir <dir>", "weights folder (default: the committed src/metrics/domain)")
    .action((opts: { dir?: string }, cmd: Command) => {
      const rep = new Reporter(globalOptions(cmd));
      const model = readDomainModel(path.resolve(opts.dir ?? committedModelDir()));
      const m = model.meta;
      const human = [
        `weights   ${path.join(model.dir, m.weights.file)} (${m.weights.bytes} bytes, sha256 ${m.weights.sha256}, diffx ${m.diffx_version})`,
        `network   ${m.architecture}`,
        `input     ${m.input.size}×${m.input.size}×${m.input.channels} ${m.input.layout}, ${m.input.resize}, ${m.input.normalization}`,
        "held-out accuracy per head:",
        ...accuracyLines(m),
      ].join("\n");
      rep.result(human, m);
    });
}
