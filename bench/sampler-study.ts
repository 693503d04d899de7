/**
 * The README's sampler table: a pretraining run's final EMA weights (a base) sampled on its
 * procedural held-out set with each sampler setting and scored exactly like an eval cell
 * (FID/KID with the config's features, text control per attribute) by src/eval/base-scores.ts. Every setting starts from
 * the same noise (the run's seed), so the rows differ by the sampler alone.
 *
 *   node --import tsx bench/sampler-study.ts RUN [--per-caption 3] [name:sampler:steps:guidance[:eta] …]
 *
 * RUN is a `diffx pretrain` run folder (its config has a `pretrain` section); files go to
 * RUN/sampler-study/. Without settings it measures the README's rows.
 */
import { pathToFileURL } from "node:url";
import type { Config } from "../src/config/schema.js";
import { sampleSchema } from "../src/config/schema.js";
import { silentProgress } from "../src/engine/progress.js";
import { scoreBase } from "../src/eval/base-scores.js";

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
  const rows: SamplerRow[] = [];
  for (const s of settings) {
    const started = performance.now();
    const r = await scoreBase(runDir, { progress: silentProgress, sample: { sampler: s.sampler, steps: s.steps, guidance: s.guidance, eta: s.eta }, perCaption, dir: "sampler-study", variant: s.name });
    const tc = r.text_control;
    rows.push({ ...s, fid: r.fid, kid: r.kid, all: tc?.success_rate ?? null, attributes: tc?.attribute_accuracy ?? {}, real: tc?.real_attribute_accuracy ?? {}, seconds: (performance.now() - started) / 1000 });
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
