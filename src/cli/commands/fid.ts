/**
 * `diffx fid A B`: FID and KID between two image folders or two feature files (.npy/.csv),
 * with bootstrap 95% intervals and the small-sample caveats that apply.
 */
import * as fs from "node:fs";
import type { Command } from "commander";
import { UsageError } from "../../errors.js";
import { DEFAULT_FEATURES, loadExtractor } from "../../metrics/extractor.js";
import { isFeatureFile, readFeatureFile } from "../../metrics/feature-files.js";
import { KID_DEFAULTS } from "../../metrics/kid.js";
import { globalOptions } from "../context.js";
import { Reporter } from "../output.js";

interface FidCommandOptions {
  features?: string;
  inputSize?: string;
  normalize?: string;
  outputName?: string;
  batchSize?: string;
  kidSubsets: string;
  kidSubsetSize: string;
  bootstrap: string;
  seed: string;
}

export function registerFid(program: Command): void {
  program
    .command("fid <a> <b>")
    .description("FID and KID between two image folders or two feature files (.npy float32/float64 n×d, or .csv one row per sample, no header)")
    .option("--features <extractor>", `image folders only: domain | pixels | onnx:PATH (default ${DEFAULT_FEATURES})`)
    .option("--input-size <px>", "onnx: square input side (default: the model's fixed input size)")
    .option("--normalize <rule>", "onnx: pixel normalisation [-1,1] | [0,1] | [0,255] | imagenet (default [-1,1])")
    .option("--output-name <name>", "onnx: model output used as features (default: the first output)")
    .option("--batch-size <n>", "onnx: images per inference call (default 16)")
    .option("--kid-subsets <n>", "number of KID subsets", String(KID_DEFAULTS.subsets))
    .option("--kid-subset-size <n>", "KID subset size (capped at each set's n)", String(KID_DEFAULTS.subsetSize))
    .option("--bootstrap <n>", "bootstrap resamples for the 95% intervals (0 = none)", "1000")
    .option("--seed <n>", "seed for KID subsets and bootstrap", "0")
    .action(async (a: string, b: string, opts: FidCommandOptions, cmd: Command) => {
      const global = globalOptions(cmd);
      const reporter = new Reporter(global);
      // heavier modules (ml-matrix, sharp) load only when this command runs
      const { compareFeatures } = await import("../../metrics/compare.js");
      const { extractFolderFeatures } = await import("../../metrics/image-folder.js");
      const kidSubsets = parseInteger(opts.kidSubsets, "--kid-subsets", 1);
      const kidSubsetSize = parseInteger(opts.kidSubsetSize, "--kid-subset-size", 2);
      const resamples = parseInteger(opts.bootstrap, "--bootstrap", 0);
      const seed = parseInteger(opts.seed, "--seed", 0);

      const kindA = inputKind(a), kindB = inputKind(b);
      if (kindA !== kindB) throw new UsageError(`${kindA === "folder" ? a : b} is an image folder but ${kindA === "folder" ? b : a} is a feature file; give two image folders or two feature files`);

      let featuresA: Float64Array[], featuresB: Float64Array[], features: string;
      let backend: string | undefined;
      if (kindA === "file") {
        const onnxOnly = [["--features", opts.features], ["--input-size", opts.inputSize], ["--normalize", opts.normalize], ["--output-name", opts.outputName], ["--batch-size", opts.batchSize]].find(([, v]) => v !== undefined);
        if (onnxOnly) throw new UsageError(`${onnxOnly[0]} applies to image folders; ${a} and ${b} are feature files`);
        featuresA = readFeatureFile(a);
        featuresB = readFeatureFile(b);
        features = `precomputed features read from ${a} and ${b}`;
      } else {
        const extractor = await loadExtractor(opts.features ?? DEFAULT_FEATURES, {
          inputSize: opts.inputSize === undefined ? undefined : parseInteger(opts.inputSize, "--input-size", 1),
          normalize: opts.normalize,
          outputName: opts.outputName,
          batchSize: opts.batchSize === undefined ? undefined : parseInteger(opts.batchSize, "--batch-size", 1),
          backend: global.backend,
        });
        try {
          featuresA = await extractFolderFeatures(a, extractor, { progress: reporter });
          featuresB = await extractFolderFeatures(b, extractor, { progress: reporter });
        } finally {
          await extractor.release?.();
        }
        features = `${extractor.name}: ${extractor.describe()}`;
        backend = extractor.backend;
      }

      const r = compareFeatures(featuresA, featuresB, {
        kid: { subsets: kidSubsets, subsetSize: kidSubsetSize, seed },
        bootstrap: { resamples, seed },
        labels: [a, b],
        progress: reporter,
      });
      for (const w of r.warnings) reporter.warn(w);

      const json: Record<string, unknown> = { fid: r.fid, kid: r.kid, kid_std: r.kid_std, n_a: r.n_a, n_b: r.n_b, dims: r.dims, features };
      if (backend !== undefined) json.backend = backend;
      if (r.fid_ci && r.kid_ci) Object.assign(json, { fid_ci95: r.fid_ci, kid_ci95: r.kid_ci });
      json.warnings = r.warnings;

      const ci = (v: [number, number] | undefined): string => (v ? `  (95% CI ${fmt(v[0])} to ${fmt(v[1])}, ${resamples} bootstrap resamples)` : "");
      const human = [
        `FID  ${fmt(r.fid)}${ci(r.fid_ci)}`,
        r.kid_subset_size[0] === r.n_a && r.kid_subset_size[1] === r.n_b
          ? `KID  ${fmt(r.kid)} (on all ${r.n_a} + ${r.n_b} samples, no subsets)${ci(r.kid_ci)}`
          : `KID  ${fmt(r.kid)} ± ${fmt(r.kid_std)} (std over ${r.kid_subsets} subsets of ${r.kid_subset_size[0]} + ${r.kid_subset_size[1]})${ci(r.kid_ci)}`,
        `n_a ${r.n_a}, n_b ${r.n_b}, ${r.dims} features`,
        `features: ${features}`,
        ...(backend === undefined ? [] : [`backend: ${backend}`]),
      ].join("\n");
      reporter.result(human, json);
    });
}

function inputKind(p: string): "folder" | "file" {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch {
    throw new UsageError(`${p}: no such file or folder`);
  }
  if (stat.isDirectory()) return "folder";
  if (isFeatureFile(p)) return "file";
  throw new UsageError(`${p}: not an image folder or a feature file (.npy or .csv)`);
}

function parseInteger(text: string, option: string, min: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min) throw new UsageError(`${option} must be an integer ≥ ${min}, got '${text}'`);
  return Number(text);
}

function fmt(v: number): string {
  if (v === 0) return "0";
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? v.toFixed(4) : v.toExponential(4);
}
