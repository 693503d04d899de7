/**
 * Eval variants: each `eval.variants[i]` is a set of overrides of the experiment config. A
 * variant that changes only `sample` reuses the fold's base training; one that changes `train`,
 * `model` or `diffusion` gets a training of its own per fold (`train-<variant>`). Variants whose
 * training configs come out identical share one training.
 */
import type { Config, VariantConfig } from "../config/schema.js";
import { diffusionSchema, evalSchema, modelSchema, sampleSchema, trainSchema } from "../config/schema.js";
import { canonicalJson } from "../engine/hash.js";
import { configHash, validateConfig } from "../config/load.js";
import { UsageError } from "../errors.js";

export interface ResolvedVariant {
  name: string;
  /** The experiment config with this variant's overrides applied. */
  config: Config;
  /** The overrides as written in eval.variants. */
  overrides: Record<string, unknown>;
  /** Name of the training it samples from (a folder in each fold folder). */
  training: string;
}

export interface TrainingPlan {
  /** "train" (the base config's training) or "train-<variant>". */
  name: string;
  /** Training config shared by all folds (the fold's name is set per fold). */
  config: Config;
  /** Variants sampled from this training. */
  variants: string[];
}

const NAME = /^[A-Za-z0-9._-]+$/;
const RESERVED = /^(train|real|sketches)(-|$)/;

/**
 * The part of a config that determines a training: everything except the sampling and eval
 * settings (those sections are reset to the base sampling settings and the schema defaults, so
 * changing samples_per_fold or a sampler never retrains) and the launcher (left out).
 */
export function trainingConfig(c: Config, base: Config): Config {
  // the launcher says where a training runs, not what it computes: fold trainings are the same whatever it is
  const { launcher: _launcher, ...rest } = c;
  return { ...rest, sample: base.sample, eval: evalSchema.parse({}) };
}

const SECTIONS = { sample: sampleSchema, train: trainSchema, model: modelSchema, diffusion: diffusionSchema } as const;
type Section = keyof typeof SECTIONS;

/**
 * The keys a variant really overrides in one section. The schema's `variantSchema` is built
 * with `.partial()` of sections whose keys have `.default()`, and zod keeps those defaults, so
 * a parsed `{ sample: { steps: 2 } }` arrives with every other sample key set to its schema
 * default. When a section arrives complete like that, keys equal to the schema default are
 * taken as not given (the base config's value applies). A section with missing keys (a schema
 * without that behaviour) is used as it is.
 * Limitation until the schema builds variant sections without defaults: a variant that sets a
 * key to exactly its schema default (e.g. sampler: dpmpp over a base with sampler: ddim) cannot
 * be told from one that leaves it unset, and gets the base value.
 */
export function explicitOverrides(section: Section, given: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!given) return {};
  const defaults = SECTIONS[section].parse({}) as Record<string, unknown>;
  const complete = Object.keys(defaults).every((k) => Object.hasOwn(given, k));
  if (!complete) return { ...given };
  return Object.fromEntries(Object.entries(given).filter(([k, v]) => canonicalJson(v) !== canonicalJson(defaults[k])));
}

export function resolveVariants(config: Config): { variants: ResolvedVariant[]; trainings: TrainingPlan[] } {
  const seen = new Set<string>();
  const baseTraining = trainingConfig(config, config);
  const baseHash = configHash(baseTraining);
  const trainings: TrainingPlan[] = [];
  const byHash = new Map<string, TrainingPlan>();
  const variants = config.eval.variants.map((v: VariantConfig, i): ResolvedVariant => {
    const where = `eval.variants[${i}]`;
    if (!NAME.test(v.name)) throw new UsageError(`${where}.name: '${v.name}' must use letters, digits, '.', '_' and '-' only (it names a folder)`);
    if (RESERVED.test(v.name)) throw new UsageError(`${where}.name: '${v.name}' clashes with the fold folders train*/real*/sketches*; choose another name`);
    if (seen.has(v.name)) throw new UsageError(`${where}.name: '${v.name}' is used by two variants`);
    seen.add(v.name);
    const given: Partial<Record<Section, Record<string, unknown>>> = {};
    for (const section of Object.keys(SECTIONS) as Section[]) {
      const o = explicitOverrides(section, v[section] as Record<string, unknown> | undefined);
      if (Object.keys(o).length) given[section] = o;
    }
    const merged = {
      ...config,
      sample: { ...config.sample, ...given.sample },
      train: { ...config.train, ...given.train },
      model: { ...config.model, ...given.model },
      diffusion: { ...config.diffusion, ...given.diffusion },
    };
    const vConfig = validateConfig(merged, `${where} (${v.name})`);
    const tConfig = trainingConfig(vConfig, config);
    const hash = configHash(tConfig);
    let plan = byHash.get(hash);
    if (!plan) {
      plan = { name: hash === baseHash ? "train" : `train-${v.name}`, config: tConfig, variants: [] };
      byHash.set(hash, plan);
      trainings.push(plan);
    }
    plan.variants.push(v.name);
    return { name: v.name, config: vConfig, overrides: given, training: plan.name };
  });
  return { variants, trainings };
}

/** The fold's training config: the plan's config named after the experiment, fold and training. */
export function foldTrainingConfig(plan: TrainingPlan, experiment: string, fold: number): Config {
  return { ...plan.config, name: `${experiment}-fold${fold}${plan.name === "train" ? "" : "-" + plan.name.slice("train-".length)}` };
}
