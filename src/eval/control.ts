/**
 * Control metrics of one fold × variant cell.
 *
 * - Text control (text models): an extractor that can also predict the generators' attributes
 *   (the `domain` CNN) classifies every generated image; a generated image is a success when
 *   every predicted attribute equals the attribute of the held-out pair whose caption it was
 *   generated from. The same classifier's success rate on the held-out real images is reported
 *   beside it: it is the ceiling the generated images can be held to.
 * - Sketch fidelity (sketch models): edge F1 between each generated image and its input sketch
 *   (edges.ts), beside the F1 of the real renders against their own sketches (reference level)
 *   and against another held-out pair's sketch (the chance level at this resolution).
 */
import type { Image } from "../engine/image.js";
import type { FeatureExtractor } from "../metrics/extractor.js";
import type { AttributeValue } from "../data/dataset.js";
import type { SketchFidelityScores, TextControlScores, ValueTally } from "../report/report-types.js";
import { DEFAULT_EDGE_OPTIONS, sketchFidelity, type EdgeOptions } from "./edges.js";

/**
 * An extractor that also predicts attributes (the `domain` extractor). Any FeatureExtractor
 * with these two members is used for text control.
 */
export interface AttributePredictor {
  /** Attribute names it predicts (e.g. style, shape, color). */
  readonly attributes: readonly string[];
  /** One record of predicted attribute values per image, in order. */
  predictAttributes(images: Image[]): Promise<Record<string, AttributeValue>[]>;
}

export function canPredictAttributes(x: FeatureExtractor): x is FeatureExtractor & AttributePredictor {
  const c = x as Partial<AttributePredictor>;
  return Array.isArray(c.attributes) && typeof c.predictAttributes === "function";
}

/**
 * Fraction of images whose predictions match `wanted` on every compared attribute, per attribute,
 * and per attribute value asked for (images asked for it, and how many of them show it).
 */
function matchRates(predicted: Record<string, AttributeValue>[], wanted: Record<string, AttributeValue>[], attributes: readonly string[]): { all: number; per: Record<string, number>; byValue: Record<string, Record<string, ValueTally>> } {
  const per: Record<string, number> = Object.fromEntries(attributes.map((a) => [a, 0]));
  const byValue: Record<string, Record<string, ValueTally>> = Object.fromEntries(attributes.map((a) => [a, {}]));
  let all = 0;
  predicted.forEach((p, i) => {
    let ok = true;
    for (const a of attributes) {
      const asked = String(wanted[i][a]);
      const hit = p[a] !== undefined && String(p[a]) === asked;
      const tally = (byValue[a][asked] ??= { n: 0, hits: 0 });
      tally.n += 1;
      if (hit) {
        per[a] += 1;
        tally.hits += 1;
      } else ok = false;
    }
    if (ok) all += 1;
  });
  const n = Math.max(1, predicted.length);
  for (const a of attributes) per[a] /= n;
  return { all: all / n, per, byValue };
}

/**
 * Text-control scores, or null when the extractor predicts no attribute the pairs carry.
 * `wanted[i]` are the attributes of the pair generated image i was conditioned on.
 */
export async function textControl(
  predictor: AttributePredictor,
  generated: Image[],
  wanted: Record<string, AttributeValue>[],
  real: Image[],
  realAttributes: Record<string, AttributeValue>[],
): Promise<TextControlScores | null> {
  const attributes = predictor.attributes.filter((a) => realAttributes.length > 0 && realAttributes.every((r) => Object.hasOwn(r, a))).sort();
  if (attributes.length === 0) return null;
  const onGenerated = matchRates(await predictor.predictAttributes(generated), wanted, attributes);
  const onReal = matchRates(await predictor.predictAttributes(real), realAttributes, attributes);
  const chance = chanceRates(realAttributes, attributes);
  return {
    success_rate: onGenerated.all,
    attribute_accuracy: onGenerated.per,
    real_success_rate: onReal.all,
    real_attribute_accuracy: onReal.per,
    chance_success_rate: chance.all,
    chance_attribute_accuracy: chance.per,
    success_vs_real: onReal.all > 0 ? onGenerated.all / onReal.all : null,
    by_value: onGenerated.byValue,
    real_by_value: onReal.byValue,
    attributes,
    n: generated.length,
    n_real: real.length,
  };
}

/**
 * Chance agreement among the held-out pairs: for ordered pairs i ≠ j, the fraction where pair j's
 * value equals pair i's (per attribute, and on every attribute at once). Null with one pair.
 */
export function chanceRates(pairs: Record<string, AttributeValue>[], attributes: readonly string[]): { all: number | null; per: Record<string, number | null> } {
  const n = pairs.length;
  const per: Record<string, number | null> = Object.fromEntries(attributes.map((a) => [a, null]));
  if (n < 2) return { all: null, per };
  let all = 0;
  const hits: Record<string, number> = Object.fromEntries(attributes.map((a) => [a, 0]));
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      let same = true;
      for (const a of attributes) {
        if (String(pairs[i][a]) === String(pairs[j][a])) hits[a] += 1;
        else same = false;
      }
      if (same) all += 1;
    }
  const total = n * (n - 1);
  for (const a of attributes) per[a] = hits[a] / total;
  return { all: all / total, per };
}

/** Sketch-fidelity scores: generated[i] was conditioned on sketches[i]; real[j] pairs with realSketches[j]. */
export function sketchControl(generated: Image[], sketches: Image[], real: Image[], realSketches: Image[], o: EdgeOptions = DEFAULT_EDGE_OPTIONS): SketchFidelityScores {
  const mean = (xs: number[]): number => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
  const gen = generated.map((img, i) => sketchFidelity(img, sketches[i], o));
  const ref = real.map((img, j) => sketchFidelity(img, realSketches[j], o).f1);
  // chance level: each real render against the next held-out pair's sketch
  const chance = real.length > 1 ? real.map((img, j) => sketchFidelity(img, realSketches[(j + 1) % real.length], o).f1) : [];
  return {
    f1: mean(gen.map((s) => s.f1)),
    precision: mean(gen.map((s) => s.precision)),
    recall: mean(gen.map((s) => s.recall)),
    real_f1: mean(ref),
    chance_f1: chance.length ? mean(chance) : null,
    tolerance_px: o.tolerance,
    gradient_threshold: o.gradientThreshold,
    sketch_threshold: o.sketchThreshold,
    n: generated.length,
  };
}
