/**
 * The attributes the domain network learns to predict: one classification head per categorical
 * attribute of each built-in generator that is visible at 32 px, plus a `domain` head (art vs
 * sketch2render). A head reads one attribute of its generator's ground truth (`attributes` in pairs.jsonl); numbers
 * (the art count) are classes by their decimal text.
 *
 * The class lists are recorded in the weights metadata, so loading the extractor needs only
 * that file; this module (which reads the generators' vocabularies) is used for training.
 */
import { BACKGROUND_COLORS, PRODUCT_COLORS, SUBJECT_COLORS } from "../../data/colors.js";
import { SHAPES } from "../../data/art/shapes.js";
import { STYLES } from "../../data/art/styles.js";
import { CATEGORIES } from "../../data/render/products.js";
import { RuntimeFailure } from "../../errors.js";
import { DOMAIN_HEAD, DOMAIN_KINDS, type DomainKind, type HeadDef } from "./model-file.js";

const ART_COUNTS = ["1", "2", "3", "4"];

export const HEADS: readonly HeadDef[] = [
  { name: DOMAIN_HEAD, kind: null, attribute: "domain", classes: DOMAIN_KINDS },
  { name: "art.style", kind: "art", attribute: "style", classes: STYLES },
  { name: "art.shape", kind: "art", attribute: "shape", classes: SHAPES },
  { name: "art.color", kind: "art", attribute: "color", classes: SUBJECT_COLORS.map((c) => c.name) },
  { name: "art.count", kind: "art", attribute: "count", classes: ART_COUNTS },
  { name: "art.background", kind: "art", attribute: "background", classes: BACKGROUND_COLORS.map((c) => c.name) },
  { name: "render.category", kind: "sketch2render", attribute: "category", classes: CATEGORIES },
  { name: "render.color", kind: "sketch2render", attribute: "color", classes: PRODUCT_COLORS.map((c) => c.name) },
];

/*
 * No head for the render material (glossy / matte): the two differ by faint highlights that do
 * not survive 32 px. A head trained on it stayed at chance on held-out images (0.46–0.49, with
 * 62 % of them glossy), and a network trained on material alone did not even fit its training
 * images (0.54), so predicting it would only add noise to the control metric.
 */

/** Class index of one image's ground truth for `head`, or -1 when the head does not apply to its generator. */
export function labelOf(head: HeadDef, kind: DomainKind, attributes: Readonly<Record<string, string | number>>): number {
  if (head.kind === null) return DOMAIN_KINDS.indexOf(kind);
  if (head.kind !== kind) return -1;
  const value = attributes[head.attribute];
  const index = value === undefined ? -1 : head.classes.indexOf(String(value));
  if (index < 0) throw new RuntimeFailure(`${kind} attribute '${head.attribute}' = ${String(value)} is not one of the head's classes (${head.classes.join(", ")})`);
  return index;
}
