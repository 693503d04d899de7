/**
 * Importing user folders: good folders of both kinds (PNG and JPEG, centre crop, captions from
 * CSV / JSONL / .txt), and broken ones — every problem is listed with its file name and the
 * output folder is left untouched.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import sharp from "sharp";
import { tempDir } from "../helpers/cli.js";
import { importDataset } from "../../src/data/import.js";
import { loadDataset, verifyDataset } from "../../src/data/dataset.js";
import { parseCsv } from "../../src/data/captions-file.js";
import { createImage, encodePng, readPng, type Image } from "../../src/engine/image.js";
import { sha256File } from "../../src/engine/hash.js";
import { UsageError } from "../../src/errors.js";

/** A w×h RGB image: left `side` columns red, right `side` columns blue, green between. */
function striped(w: number, h: number, side: number): Image {
  const img = createImage(w, h, 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      if (x < side) img.data[o] = 255;
      else if (x >= w - side) img.data[o + 2] = 255;
      else img.data[o + 1] = 255;
    }
  return img;
}

function solid(size: number, rgb: [number, number, number]): Image {
  const img = createImage(size, size, 3);
  for (let i = 0; i < size * size; i++) img.data.set(rgb, i * 3);
  return img;
}

async function writeJpeg(file: string, img: Image): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: img.channels } }).jpeg({ quality: 95 }).toFile(file);
}

function writePngFile(file: string, img: Image): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodePng(img));
}

function snapshot(dir: string): Record<string, string> | null {
  if (!fs.existsSync(dir)) return null;
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out[r] = sha256File(path.join(d, e.name));
    }
  };
  walk(dir, "");
  return out;
}

async function expectFailure(opts: Parameters<typeof importDataset>[0], mustName: string[]): Promise<string> {
  const before = snapshot(opts.out);
  const parentBefore = fs.readdirSync(path.dirname(opts.out)).sort();
  let message = "";
  await assert.rejects(importDataset(opts), (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    message = e.message;
    return true;
  });
  for (const s of mustName) assert.ok(message.includes(s), `message names ${JSON.stringify(s)}:\n${message}`);
  assert.match(message, /nothing was written/);
  assert.deepEqual(snapshot(opts.out), before, "output folder untouched");
  assert.deepEqual(fs.readdirSync(path.dirname(opts.out)).sort(), parentBefore, "no staging folders left");
  return message;
}

test("CSV parser: quotes, doubled quotes, commas and line breaks inside quotes, CRLF, BOM", () => {
  const rows = parseCsv('\ufefffile,caption\r\na.png,"red, round"\r\n"b.png","say ""hi""\nthere"\n\nc.png,plain\n');
  assert.deepEqual(rows, [
    { cells: ["file", "caption"], line: 1 },
    { cells: ["a.png", "red, round"], line: 2 },
    { cells: ["b.png", 'say "hi"\nthere'], line: 3 },
    { cells: ["c.png", "plain"], line: 6 },
  ]);
});

test("art import: captions.csv, PNG and JPEG, centre crop and resize", async () => {
  const root = tempDir();
  const src = path.join(root, "my-art");
  writePngFile(path.join(src, "images", "wide.png"), striped(60, 40, 10));
  await writeJpeg(path.join(src, "images", "Blue Sky.JPG"), solid(50, [20, 40, 230]));
  writePngFile(path.join(src, "images", "tall.png"), solid(30, [250, 250, 0]));
  fs.writeFileSync(path.join(src, "captions.csv"), 'file,caption,caption_zh,group\nwide.png,"green, with stripes cropped away",绿色,g1\nBlue Sky.JPG,a blue square,,g1\ntall,a yellow square,黄色正方形,\n');
  const out = path.join(root, "datasets", "my-art");
  const r = await importDataset({ kind: "art", from: src, out, size: 16 });
  assert.equal(r.n, 3);
  assert.equal(verifyDataset(out).ok, true);
  const ds = loadDataset(out);
  assert.equal(ds.kind, "art");
  assert.equal(ds.imageSize, 16);
  assert.equal(ds.manifest.seed, null);
  // sorted by file name (code units): "Blue Sky" < "tall" < "wide"
  assert.deepEqual(ds.pairs.map((p) => p.source), ["images/Blue Sky.JPG", "images/tall.png", "images/wide.png"]);
  assert.deepEqual(ds.pairs.map((p) => p.caption), ["a blue square", "a yellow square", "green, with stripes cropped away"]);
  assert.deepEqual(ds.pairs.map((p) => p.caption_zh), [undefined, "黄色正方形", "绿色"]);
  assert.deepEqual(ds.pairs.map((p) => p.group), ["g1", "0001", "g1"]);
  const wide = readPng(path.join(out, ds.pairs[2].image), 3);
  assert.equal(wide.width, 16);
  assert.equal(wide.height, 16);
  for (let i = 0; i < 16 * 16; i++) assert.deepEqual([...wide.data.subarray(i * 3, i * 3 + 3)], [0, 255, 0], "centre crop keeps only the green middle");
  const blue = readPng(path.join(out, ds.pairs[0].image), 3);
  for (let i = 0; i < 16 * 16; i++) assert.ok(Math.abs(blue.data[i * 3 + 2] - 230) < 12 && blue.data[i * 3] < 40, "JPEG decoded");
});

test("art import: same-name .txt captions (and .zh.txt), JSONL captions", async () => {
  const root = tempDir();
  const a = path.join(root, "a");
  writePngFile(path.join(a, "one.png"), solid(8, [255, 0, 0]));
  fs.writeFileSync(path.join(a, "one.txt"), "  a red square\n");
  fs.writeFileSync(path.join(a, "one.zh.txt"), "红色正方形\n");
  const r = await importDataset({ kind: "art", from: a, out: path.join(root, "out-a"), size: 8 });
  assert.deepEqual(loadDataset(r.dir).pairs.map((p) => [p.caption, p.caption_zh]), [["a red square", "红色正方形"]]);

  const b = path.join(root, "b");
  writePngFile(path.join(b, "x.png"), solid(8, [0, 0, 255]));
  fs.writeFileSync(path.join(b, "captions.jsonl"), '{"file": "x.png", "caption": "blue", "caption_zh": "蓝色", "group": 5}\n');
  const rb = await importDataset({ kind: "art", from: b, out: path.join(root, "out-b"), size: 8 });
  assert.deepEqual(loadDataset(rb.dir).pairs.map((p) => [p.caption, p.caption_zh, p.group]), [["blue", "蓝色", "5"]]);
});

test("sketch2render import: matched by name, sketches stored as 1 channel", async () => {
  const root = tempDir();
  const src = path.join(root, "s2r");
  for (const name of ["chair", "lamp"]) {
    writePngFile(path.join(src, "sketches", `${name}.png`), solid(20, [200, 200, 200]));
    await writeJpeg(path.join(src, "renders", `${name}.jpg`), solid(24, [180, 30, 30]));
  }
  const r = await importDataset({ kind: "sketch2render", from: src, out: path.join(root, "out"), size: 12 });
  const ds = loadDataset(r.dir);
  assert.equal(ds.kind, "sketch2render");
  assert.deepEqual(ds.pairs.map((p) => p.source), ["renders/chair.jpg", "renders/lamp.jpg"]);
  for (const p of ds.pairs) {
    assert.ok(p.sketch);
    assert.equal(fs.readFileSync(path.join(r.dir, p.sketch))[25], 0, "greyscale PNG");
    const sk = readPng(path.join(r.dir, p.sketch), 1);
    assert.equal(sk.width, 12);
    assert.ok(sk.data.every((v) => v === 200));
  }
});

test("broken art folder: every problem listed with its file; nothing written", async () => {
  const root = tempDir();
  const src = path.join(root, "bad");
  writePngFile(path.join(src, "ok.png"), solid(8, [1, 2, 3]));
  writePngFile(path.join(src, "nocap.png"), solid(8, [1, 2, 3]));
  writePngFile(path.join(src, "empty.png"), solid(8, [1, 2, 3]));
  writePngFile(path.join(src, "ctrl.png"), solid(8, [1, 2, 3]));
  writePngFile(path.join(src, "twice.png"), solid(8, [1, 2, 3]));
  writePngFile(path.join(src, "dup.png"), solid(8, [1, 2, 3]));
  await writeJpeg(path.join(src, "dup.jpg"), solid(8, [1, 2, 3]));
  fs.writeFileSync(path.join(src, "broken.jpg"), "this is not a JPEG");
  fs.writeFileSync(
    path.join(src, "captions.csv"),
    ["file,caption", "ok.png,fine", "empty.png,   ", "ctrl.png,\"bell\u0007here\"", "twice.png,first", "twice.png,second", "ghost.png,no such image", "dup.png,dup", "broken.jpg,broken"].join("\n") + "\n",
  );
  const out = path.join(root, "out");
  await expectFailure({ kind: "art", from: src, out, size: 8 }, [
    "nocap.png: no caption (missing from captions.csv)",
    "captions.csv:3 (empty.png): empty caption",
    "captions.csv:4 (ctrl.png): caption contains a control character (U+0007)",
    "captions.csv:6: duplicate entry for 'twice.png' (first at captions.csv:5)",
    "captions.csv:7: image 'ghost.png' not found",
    "dup.png: duplicate name 'dup'",
    "broken.jpg: unreadable image",
  ]);
  assert.equal(fs.existsSync(out), false);
});

test("broken art folder with .txt captions: missing and empty captions named; an existing dataset is left as it was", async () => {
  const root = tempDir();
  const good = path.join(root, "good");
  writePngFile(path.join(good, "a.png"), solid(8, [9, 9, 9]));
  fs.writeFileSync(path.join(good, "a.txt"), "grey");
  const out = path.join(root, "out");
  await importDataset({ kind: "art", from: good, out, size: 8 });
  const bad = path.join(root, "bad");
  writePngFile(path.join(bad, "a.png"), solid(8, [9, 9, 9]));
  writePngFile(path.join(bad, "b.png"), solid(8, [9, 9, 9]));
  fs.writeFileSync(path.join(bad, "b.txt"), "\n");
  await expectFailure({ kind: "art", from: bad, out, size: 8, force: true }, ["a.png: no caption (no a.txt", "b.txt: empty caption"]);
  assert.equal(verifyDataset(out).ok, true);
});

test("broken sketch2render folder: all unmatched sketches and renders listed", async () => {
  const root = tempDir();
  const src = path.join(root, "s2r");
  for (const n of ["both", "only-sketch-1", "only-sketch-2"]) writePngFile(path.join(src, "sketches", `${n}.png`), solid(8, [255, 255, 255]));
  for (const n of ["both", "only-render"]) writePngFile(path.join(src, "renders", `${n}.png`), solid(8, [0, 0, 0]));
  writePngFile(path.join(src, "renders", "both.jpg.png"), solid(8, [0, 0, 0]));
  fs.writeFileSync(path.join(src, "renders", "only-render.jpeg"), "garbage");
  await expectFailure({ kind: "sketch2render", from: src, out: path.join(root, "out"), size: 8 }, [
    "sketches/only-sketch-1.png: sketch without a render",
    "sketches/only-sketch-2.png: sketch without a render",
    "renders/only-render.jpeg: render without a sketch",
    "renders/only-render.png: duplicate name 'only-render' (also renders/only-render.jpeg)",
    "renders/both.jpg.png: render without a sketch",
    "renders/only-render.jpeg: unreadable image (",
  ]);
  await assert.rejects(importDataset({ kind: "sketch2render", from: path.join(root, "missing"), out: path.join(root, "out"), size: 8 }), (e: unknown) => e instanceof UsageError && /missing: source folder not found/.test(e.message));
});

test("sketch2render folder without renders/: named", async () => {
  const root = tempDir();
  const src = path.join(root, "s");
  writePngFile(path.join(src, "sketches", "a.png"), solid(8, [255, 255, 255]));
  await expectFailure({ kind: "sketch2render", from: src, out: path.join(root, "out"), size: 8 }, [`${path.join(src, "renders")}: folder not found`]);
});
