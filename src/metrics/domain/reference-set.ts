/**
 * The procedural reference set the domain network learns from, generated on the fly by the
 * built-in generators with seeds of its own (the reference range of src/config/seed-ranges.ts,
 * disjoint from every dataset's and every base model's corpus), so the extractor never sees the
 * images it is later asked to score.
 *
 * Each image is drawn at 128 px and turned into several 32×32 network inputs ("views"), the
 * ways images reach the extractor in practice: a 128-px dataset image resized by the
 * half-pixel bilinear rule, and images of 64, 32 and 16 px (area-downsampled from the 128-px
 * drawing, stored as 8-bit, then resized the same way) like the samples of small models.
 *
 * This is the one place in src/metrics that reads src/data (the generators); the extractor
 * itself needs only the weights folder.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../../engine/hash.js";
import { decodePng, resizeArea, type Image } from "../../engine/image.js";
import { silentProgress, type ProgressSink } from "../../engine/progress.js";
import { GENERATORS } from "../../data/build.js";
import type { AttributeValue } from "../../data/dataset.js";
import { RuntimeFailure } from "../../errors.js";
import { DOMAIN_KINDS, type DomainKind } from "./model-file.js";
import { preprocess } from "./preprocess.js";

/** Size the reference images are drawn at. */
export const GENERATION_SIZE = 128;

/** The views of each reference image: the pixel size it is brought to before the 32-px resize. */
export const VIEW_SIZES = [128, 64, 32, 16] as const;

export const VIEW_TEXT =
  "each image drawn at 128 px; views at 128, 64, 32 and 16 px (area-downsampled, 8-bit), each resized to 32×32 by half-pixel bilinear";

/** Generator seeds of the reference sets, in the reference range of src/config/seed-ranges.ts. */
export const REFERENCE_SEEDS = {
  train: { art: 1_000_001, sketch2render: 1_000_002 },
  heldout: { art: 1_000_011, sketch2render: 1_000_012 },
} as const satisfies Record<string, Record<DomainKind, number>>;

export interface ReferencePart {
  generator: string;
  version: string;
  seed: number;
  n: number;
}

export interface ReferenceImage {
  kind: DomainKind;
  index: number;
  attributes: Record<string, AttributeValue>;
  /** One preprocessed 32×32×3 input per entry of VIEW_SIZES. */
  views: Float32Array[];
}

export interface ReferenceSet {
  images: ReferenceImage[];
  parts: Record<DomainKind, ReferencePart>;
  /** sha256 over every drawn image's pixels and attributes, in order: changes when a generator does. */
  sha256: string;
}

/** The reference image `index` of generator `kind` with `seed`, drawn at GENERATION_SIZE. */
export function referenceDrawing(kind: DomainKind, seed: number, index: number): { image: Image; attributes: Record<string, AttributeValue> } {
  const pair = GENERATORS[kind].pair(seed, index, GENERATION_SIZE);
  const file = pair.files.find((f) => f.path === pair.record.image);
  if (!file) throw new RuntimeFailure(`${kind} generator: pair ${index} has no image file`);
  return { image: decodePng(file.bytes, 3, `${kind} reference ${index}`), attributes: pair.record.attributes };
}

/** The 32×32 inputs of one drawing, one per VIEW_SIZES entry. */
export function viewsOf(image: Image): Float32Array[] {
  return VIEW_SIZES.map((size) => preprocess(size === image.width ? image : resizeArea(image, size)));
}

/** Draw `n[kind]` images of each generator with `seeds[kind]`, art first. */
export function buildReferenceSet(seeds: Readonly<Record<DomainKind, number>>, n: Readonly<Record<DomainKind, number>>, label: string, progress: ProgressSink = silentProgress): ReferenceSet {
  const total = n.art + n.sketch2render;
  const hash = createHash("sha256");
  const images: ReferenceImage[] = [];
  progress.start(`drawing the ${label} reference set`, total);
  try {
    for (const kind of DOMAIN_KINDS) {
      for (let index = 0; index < n[kind]; index++) {
        const { image, attributes } = referenceDrawing(kind, seeds[kind], index);
        hash.update(`${kind} ${index} ${canonicalJson(attributes)}\n`);
        hash.update(image.data);
        images.push({ kind, index, attributes, views: viewsOf(image) });
        progress.update(images.length);
      }
    }
  } finally {
    progress.stop();
  }
  const part = (kind: DomainKind): ReferencePart => ({ generator: GENERATORS[kind].info.name, version: GENERATORS[kind].info.version, seed: seeds[kind], n: n[kind] });
  return { images, parts: { art: part("art"), sketch2render: part("sketch2render") }, sha256: hash.digest("hex") };
}
