/**
 * The art generator: pair i is a painting drawn from its attributes (style, subject shape,
 * colour and count, background colour, palette, composition) plus its caption in English
 * and Chinese. Pair i depends only on (seed, i): a smaller build is a prefix of a larger one.
 * Styles are balanced: every block of STYLES.length consecutive pairs holds each style once.
 */
import { Rng } from "../../engine/rng.js";
import { createImage, encodePng, type Image } from "../../engine/image.js";
import { BACKGROUND_COLORS, contrasting, PALETTES, PALETTE_NAMES, SUBJECT_COLORS, type NamedColor } from "../colors.js";
import { countedEn, countZh, article } from "../captions.js";
import type { GeneratedPair } from "../dataset.js";
import { compositionsFor, layoutSubjects, type Composition } from "./layout.js";
import { SHAPES, SHAPE_TEXT, type ShapeName } from "./shapes.js";
import { makePainter, STYLES, STYLE_TEXT, type Painter, type StyleName } from "./styles.js";

export const ART_GENERATOR = { name: "diffx-art", version: "1" } as const;

/** The ground truth of one painting. */
export interface ArtAttributes {
  style: StyleName;
  shape: ShapeName;
  color: string;
  count: number;
  background: string;
  palette: string;
  composition: Composition;
}

export function styleOf(seed: number, index: number): StyleName {
  const block = Math.floor(index / STYLES.length);
  const order = new Rng(seed, "art-style-block", block).shuffle([...STYLES]);
  return order[index % STYLES.length];
}

function namedColor(list: readonly NamedColor[], name: string): NamedColor {
  const c = list.find((x) => x.name === name);
  if (!c) throw new Error(`unknown colour '${name}'`);
  return c;
}

/** English and Chinese caption written from the attributes. */
export function artCaption(a: ArtAttributes): { en: string; zh: string } {
  const shape = SHAPE_TEXT[a.shape];
  const style = STYLE_TEXT[a.style];
  const bg = namedColor(BACKGROUND_COLORS, a.background);
  const subject = namedColor(SUBJECT_COLORS, a.color);
  const en = `${article(style.en)} ${style.en} of ${countedEn(a.count, subject.name, shape.one, shape.many)} on ${article(bg.name)} ${bg.name} background`;
  const zh = `${style.zh}，${bg.zh}背景上的${countZh(a.count)}${subject.zh}${shape.zh}`;
  return { en, zh };
}

/** Evaluate a painter on an ss×ss grid per pixel and average (anti-aliasing). */
function rasterize(paint: Painter, size: number): Image {
  const ss = Math.max(2, Math.ceil(384 / size));
  const img = createImage(size, size, 3);
  const c = new Float64Array(3);
  const inv = 1 / (ss * ss);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0;
      for (let sy = 0; sy < ss; sy++)
        for (let sx = 0; sx < ss; sx++) {
          paint((x + (sx + 0.5) / ss) / size, (y + (sy + 0.5) / ss) / size, c);
          r += Math.min(1, Math.max(0, c[0]));
          g += Math.min(1, Math.max(0, c[1]));
          b += Math.min(1, Math.max(0, c[2]));
        }
      const o = (y * size + x) * 3;
      img.data[o] = Math.round(r * inv * 255);
      img.data[o + 1] = Math.round(g * inv * 255);
      img.data[o + 2] = Math.round(b * inv * 255);
    }
  return img;
}

/** Attributes of pair `index` (cheap: no drawing). */
export function artAttributes(seed: number, index: number): ArtAttributes {
  return drawPlan(seed, index).attributes;
}

function drawPlan(seed: number, index: number): { attributes: ArtAttributes; rng: Rng } {
  const rng = new Rng(seed, "art", index);
  const style = styleOf(seed, index);
  const shape = rng.pick(SHAPES);
  const count = 1 + rng.int(4);
  const composition = rng.pick(compositionsFor(count));
  const background = rng.pick(BACKGROUND_COLORS);
  const subject = rng.pick(SUBJECT_COLORS.filter((c) => c.name !== background.name && contrasting(c.rgb, background.rgb)));
  const palette = rng.pick(PALETTE_NAMES);
  return { attributes: { style, shape, color: subject.name, count, background: background.name, palette, composition }, rng };
}

/** Draw pair `index` at `size` px. */
export function generateArtPair(seed: number, index: number, size: number): GeneratedPair {
  const { attributes: a, rng } = drawPlan(seed, index);
  const shapes = layoutSubjects(a.shape, a.count, a.composition, rng);
  const background = namedColor(BACKGROUND_COLORS, a.background);
  const subject = namedColor(SUBJECT_COLORS, a.color);
  const painter = makePainter(a.style, { background: background.rgb, subject: subject.rgb, palette: PALETTES[a.palette], shapes }, rng);
  const image = rasterize(painter, size);
  const id = String(index).padStart(4, "0");
  const caption = artCaption(a);
  return {
    record: {
      id,
      image: `images/${id}.png`,
      caption: caption.en,
      caption_zh: caption.zh,
      attributes: { ...a },
      group: id,
    },
    files: [{ path: `images/${id}.png`, bytes: encodePng(image) }],
  };
}
