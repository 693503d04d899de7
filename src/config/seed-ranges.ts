/**
 * The generator seed ranges, in one place. Pair i of a built-in generator depends only on
 * (seed, i), so images drawn with seeds from different ranges never coincide by construction:
 *
 * - dataset:   every dataset a config builds (`dataset.seed` of art / sketch2render configs);
 * - reference: the domain feature extractor's procedural reference set (src/metrics/domain);
 * - pretrain:  the corpora the shipped base models are pretrained on, and their held-out sets.
 *
 * A base model therefore never saw the pairs of any dataset it is later fine-tuned and
 * evaluated on, and the extractor that scores it never saw either.
 */
import { UsageError } from "../errors.js";

export interface SeedRange {
  /** Inclusive bounds. */
  min: number;
  max: number;
  what: string;
}

export const SEED_RANGES = {
  dataset: { min: 0, max: 999_999, what: "datasets built from a config" },
  reference: { min: 1_000_000, max: 1_999_999, what: "the domain feature extractor's reference set" },
  pretrain: { min: 2_000_000, max: 2_999_999, what: "the base models' pretraining corpora and held-out sets" },
} as const satisfies Record<string, SeedRange>;

export type SeedUse = keyof typeof SEED_RANGES;

export function inSeedRange(use: SeedUse, seed: number): boolean {
  const r = SEED_RANGES[use];
  return Number.isInteger(seed) && seed >= r.min && seed <= r.max;
}

/** A UsageError unless `seed` lies in the range of `use`; `where` names the key or file. */
export function requireSeedRange(use: SeedUse, seed: number, where: string): void {
  if (inSeedRange(use, seed)) return;
  const r = SEED_RANGES[use];
  throw new UsageError(`${where}: seed ${seed} is outside the range reserved for ${r.what} (${r.min}–${r.max}); the ranges keep datasets, the domain extractor's reference set and the base models' corpora disjoint (src/config/seed-ranges.ts)`);
}
