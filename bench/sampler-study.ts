/**
 * The README's sampler table: a pretraining run's final EMA weights (a base) sampled on its
 * procedural held-out set with each sampler setting and scored exactly like an eval cell
 * (FID/KID with the config's features, text control per attribute). Every setting starts from
 * the same noise (the run's seed), so the rows differ by the sampler alone.
 *
 *   node --import tsx bench/sampler-study.ts RUN [--per-caption 3] [name:sampler:steps:guidance[:eta] …]
 *
 * RUN is a `diffx pretrain` run folder (its config has a `pretrain` section); files go to
 * RUN/sampler-study/. Without settings it measures the README's rows.
 */
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { Config } from "../src/config/schema.js";
import { sampleSchema } from "../src/config/schema.js";
import { loadConfig } from "../src/config/load.js";
import { openDataset } from "../src/data/build.js";
import { silentProgress } from "../src/engine/progress.js";
import { heldOutDataset } from "../src/eval/base-scores.js";
import { runCell } from "../src/eval/cell.js";
import { HeldOutLoader } from "../src/eval/held-out.js";
import { loadExtractor } from "../src/metrics/extractor.js";
import { RUN_FILES } from "../src/runs/folder.js";
import { readManifest } from "../src/runs/manifest.js";

export interface SamplerSetting {
  name: string;
  sampler: Config["sample"]["sampler"];
  steps: number;
  guidance: number;
  eta: number;
}

export interface SamplerRow extends SamplerSetting {
  fid: number;
  kid: number;
  /** Share of images whose every attribute the classifier reads as the caption's. */
  all: number | null;
  attributes: Record<string, number>;
  real: Record<string, number>;
  seconds: number;
}

export const README_SETTINGS: SamplerSetting[] = [
  { name: "ddpm-25", sampler: "ddpm", steps: 25, guidance: 2, eta: 0 },
  { name: "ddpm-50", sampler: "ddpm", steps: 50, guidance: 2, eta: 0 },
  { name: "ddpm-100", sampler: "ddpm", steps: 100, guidance: 2, eta: 0 },
  { name: "ddpm-50-g1", sampler: "ddpm", steps: 50, guidance: 1, eta: 0 },
  { name: "ddpm-50-g3", sampler: "ddpm", steps: 50, guidance: 3, eta: 0 },
  { name: "ddpm-50-g4", sampler: "ddpm", steps: 50, guidance: 4, eta: 0 },
  { name: "ddim-50-eta0.5", sampler: "ddim", steps: 50, guidance: 2, eta: 0.5 },
  { name: "ddim-50", sampler: "ddim", steps: 50, guidance: 2, eta: 0 },
  { name: "dpmpp-25", sampler: "dpmpp", steps: 25, guidance: 2, eta: 0 },
];

/** `name:sampler:steps:guidance[:eta]`, checked by the config schema. */
export function parseSetting(spec: string): SamplerSetting {
  const [name, sampler, steps, guidance, eta = "0"] = spec.split(":");
  const s = sampleSchema.parse({ sampler, steps: Number(steps), guidance: Number(guidance), eta: Number(eta) });
  return { name, sampler: s.sampler, steps: s.steps, guidance: s.guidance, eta: s.eta };
}

export async function samplerStudy(runDir: string, settings: readonly SamplerSetting[], perCaption: number): Promise<SamplerRow[]> {
  const progress = silentProgress;
  const { config: runConfig, hash } = loadConfig(path.join(runDir, RUN_FILES.config));
  const ds = openDataset(heldOutDataset(runConfig), { progress });
  const n = ds.pairs.length;
  const R = runConfig.model.resolution;
  const outDir = path.join(runDir, "sampler-study");
  const heldOut = await new HeldOutLoader(ds, outDir).fold(0, ds.pairs.map((_, i) => i), R);
  const extractor = await loadExtractor(runConfig.eval.features);
  const real = await extractor.extract(heldOut.images);
  const rows: SamplerRow[] = [];
  for (const s of settings) {
    const config: Config = { ...runConfig, eval: { ...runConfig.eval, samples_per_fold: n * perCaption }, sample: { ...runConfig.sample, sampler: s.sampler, steps: s.steps, guidance: s.guidance, eta: s.eta } };
    const started = performance.now();
    const cell = await runCell({
      evalDir: outDir,
      fold: 0,
      variant: { name: s.name, config, overrides: {}, training: "pretrain" },
      trainDir: runDir,
      trainRel: "..",
      trainHash: hash,
      seed: runConfig.seed,
      statsSeed: runConfig.seed,
      heldOut,
      realFeatures: real,
      realFeaturesFile: "real.npy",
      extractor,
      featuresSpec: runConfig.eval.features,
      datasetHash: readManifest(runDir).dataset_hash ?? ds.hash,
      concurrentTrainings: 0,
      progress,
    });
    const tc = cell.text_control;
    rows.push({ ...s, fid: cell.fid, kid: cell.kid, all: tc?.success_rate ?? null, attributes: tc?.attribute_accuracy ?? {}, real: tc?.real_attribute_accuracy ?? {}, seconds: (performance.now() - started) / 1000 });
  }
  return rows;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf("--per-caption");
  const perCaption = at >= 0 ? Number(args.splice(at, 2)[1]) : 3;
  const [runDir, ...specs] = args;
  if (!runDir || !Number.isInteger(perCaption) || perCaption < 1) {
    console.error("usage: node --import tsx bench/sampler-study.ts RUN [--per-caption 3] [name:sampler:steps:guidance[:eta] …]");
    process.exit(2);
  }
  const settings = specs.length > 0 ? specs.map(parseSetting) : README_SETTINGS;
  const pct = (v: number | undefined): string => (v === undefined ? "–" : `${(100 * v).toFixed(1)} %`);
  console.log("| setting | FID | background | colour | count | shape | style | all five | s |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of await samplerStudy(runDir, settings, perCaption)) {
    const a = r.attributes;
    console.log(`| ${r.name} | ${r.fid.toFixed(2)} | ${pct(a.background)} | ${pct(a.color)} | ${pct(a.count)} | ${pct(a.shape)} | ${pct(a.style)} | ${pct(r.all ?? undefined)} | ${r.seconds.toFixed(0)} |`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
