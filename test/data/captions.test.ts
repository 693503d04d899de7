/** Captions in English and Chinese, written from the generators' ground-truth attributes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { artAttributes, artCaption, generateArtPair } from "../../src/data/art/generate.js";
import { renderCaption, generateRenderPair } from "../../src/data/render/generate.js";
import { STYLES, STYLE_TEXT } from "../../src/data/art/styles.js";
import { SHAPES } from "../../src/data/art/shapes.js";
import { CATEGORIES } from "../../src/data/render/products.js";
import { BACKGROUND_COLORS, SUBJECT_COLORS, PALETTE_NAMES, contrasting } from "../../src/data/colors.js";

test("art caption: the study's example, hand-written", () => {
  const c = artCaption({ style: "pointillism", shape: "circle", color: "red", count: 3, background: "dark blue", palette: "warm", composition: "row" });
  assert.equal(c.en, "a pointillism painting of three red circles on a dark blue background");
  assert.equal(c.zh, "点彩风格，深蓝色背景上的三个红色圆形");
});

test("art caption: singular, articles and other styles", () => {
  assert.deepEqual(artCaption({ style: "op-art", shape: "cross", color: "orange", count: 1, background: "cream", palette: "neon", composition: "centered" }), {
    en: "an op-art painting of an orange cross on a cream background",
    zh: "欧普艺术风格，米色背景上的一个橙色十字",
  });
  assert.deepEqual(artCaption({ style: "mosaic", shape: "star", color: "white", count: 2, background: "black", palette: "cool", composition: "row" }), {
    en: "a mosaic of two white stars on a black background",
    zh: "马赛克风格，黑色背景上的两个白色五角星",
  });
  assert.deepEqual(artCaption({ style: "waves", shape: "diamond", color: "green", count: 4, background: "grey", palette: "earth", composition: "grid" }), {
    en: "a wave pattern painting of four green diamonds on a grey background",
    zh: "波浪风格，灰色背景上的四个绿色菱形",
  });
});

test("render caption, hand-written", () => {
  assert.deepEqual(renderCaption({ category: "mug", color: "red", material: "glossy", yaw: 10, pitch: 20, background: "plain" }), { en: "a glossy red mug", zh: "红色亮面马克杯" });
  assert.deepEqual(renderCaption({ category: "lamp", color: "white", material: "matte", yaw: 10, pitch: 20, background: "plain" }), { en: "a matte white lamp", zh: "白色哑光台灯" });
});

const ZH_COUNT = ["", "一个", "两个", "三个", "四个"];

test("every generated art pair: valid attributes, both captions name them", () => {
  const bg = new Map(BACKGROUND_COLORS.map((c) => [c.name, c]));
  const fg = new Map(SUBJECT_COLORS.map((c) => [c.name, c]));
  const styleCounts = new Map<string, number>();
  for (let i = 0; i < 60; i++) {
    const a = artAttributes(1, i);
    assert.ok((STYLES as readonly string[]).includes(a.style));
    assert.ok((SHAPES as readonly string[]).includes(a.shape));
    assert.ok(a.count >= 1 && a.count <= 4);
    assert.ok(PALETTE_NAMES.includes(a.palette));
    const b = bg.get(a.background), s = fg.get(a.color);
    assert.ok(b && s, `${a.background}/${a.color}`);
    assert.ok(contrasting(b.rgb, s.rgb), `subject ${a.color} stands out from ${a.background}`);
    styleCounts.set(a.style, (styleCounts.get(a.style) ?? 0) + 1);
    const c = artCaption(a);
    assert.ok(c.en.includes(` ${a.color} `) && c.en.includes(`on a ${a.background} background`), c.en);
    assert.ok(c.zh.startsWith(`${STYLE_TEXT[a.style].zh}，`) && c.zh.includes(`${b.zh}背景上的${ZH_COUNT[a.count]}${s.zh}`), c.zh);
    assert.doesNotMatch(c.zh, /[A-Za-z]/, "Chinese caption has no Latin letters");
  }
  assert.deepEqual([...styleCounts.values()], Array(STYLES.length).fill(60 / STYLES.length), "styles balanced");
});

test("generated records carry both captions", () => {
  const art = generateArtPair(1, 0, 16).record;
  assert.equal(art.caption, artCaption(artAttributes(1, 0)).en);
  assert.equal(art.caption_zh, artCaption(artAttributes(1, 0)).zh);
  const r = generateRenderPair(1, 0, 16).record;
  assert.ok(r.caption && r.caption_zh);
  assert.ok((CATEGORIES as readonly string[]).includes(String(r.attributes.category)));
  assert.ok(r.caption.endsWith(String(r.attributes.category)));
});
