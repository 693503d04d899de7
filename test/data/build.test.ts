/**
 * Dataset builds: determinism (same hash across runs and folders, equal to constants recorded
 * here so that drift across versions is caught), the folder format, verify, and the
 * reuse / refuse / force rules of writing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "../helpers/cli.js";
import { datasetSchema } from "../../src/config/schema.js";
import { buildDataset, openDataset } from "../../src/data/build.js";
import { datasetHash, loadDataset, verifyDataset, type PairRecord } from "../../src/data/dataset.js";
import { sha256File } from "../../src/engine/hash.js";
import { readPng } from "../../src/engine/image.js";
import { UsageError, RuntimeFailure } from "../../src/errors.js";

/**
 * Recorded from the first build of this version (diffx-art 1 / diffx-sketch2render 1, seed 7,
 * n 6, 32 px). A change here means the generators' output changed: bump the generator version.
 */
const ART_HASH = "0cc8367e4ddd0581356cf3f7199f287d41853a9320bed9730b2fcdc3e899fd03";
const RENDER_HASH = "f21984c65b8923279a41fc50638ada5a933fabeaf374541f0af9725f519097ba";

const artCfg = datasetSchema.parse({ kind: "art", name: "a", n: 6, image_size: 32, seed: 7 });
const renderCfg = datasetSchema.parse({ kind: "sketch2render", name: "r", n: 6, image_size: 32, seed: 7 });

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(r);
    }
  };
  walk(dir, "");
  return out.sort();
}

test("art build: same hash in two folders, byte-identical files, recorded hash", () => {
  const root = tempDir();
  const a = buildDataset(artCfg, path.join(root, "one"));
  const b = buildDataset(artCfg, path.join(root, "two"));
  assert.equal(a.hash, b.hash);
  assert.equal(a.n, 6);
  const files = listFiles(a.dir);
  assert.deepEqual(files, listFiles(b.dir));
  assert.deepEqual(files, ["images/0000.png", "images/0001.png", "images/0002.png", "images/0003.png", "images/0004.png", "images/0005.png", "manifest.json", "pairs.jsonl"]);
  for (const f of files) assert.equal(sha256File(path.join(a.dir, f)), sha256File(path.join(b.dir, f)), f);
  assert.equal(a.hash, ART_HASH);
});

test("sketch2render build: same hash in two folders, recorded hash, 1-channel sketches", () => {
  const root = tempDir();
  const a = buildDataset(renderCfg, path.join(root, "one"));
  const b = buildDataset(renderCfg, path.join(root, "two"));
  assert.equal(a.hash, b.hash);
  assert.equal(a.hash, RENDER_HASH);
  const ds = loadDataset(a.dir);
  assert.equal(ds.kind, "sketch2render");
  for (const p of ds.pairs) {
    assert.ok(p.sketch);
    const raw = fs.readFileSync(path.join(ds.dir, p.sketch));
    assert.equal(raw[25], 0, "PNG colour type 0 (greyscale)");
    const sk = readPng(path.join(ds.dir, p.sketch), 1);
    assert.equal(sk.width, 32);
    // dark strokes on white: mostly paper, some ink
    const white = sk.data.filter((v) => v > 240).length / sk.data.length;
    const ink = sk.data.filter((v) => v < 160).length;
    assert.ok(white > 0.5, `mostly white paper (${white})`);
    assert.ok(ink > 10, "has strokes");
    for (const k of ["category", "color", "material", "yaw", "pitch"]) assert.ok(Object.hasOwn(p.attributes, k), k);
  }
});

test("manifest: sha256 of every file and the dataset hash over the sorted listing", () => {
  const root = tempDir();
  const r = buildDataset(artCfg, path.join(root, "d"));
  const m = JSON.parse(fs.readFileSync(path.join(r.dir, "manifest.json"), "utf8")) as { format: number; generator: { name: string; version: string }; seed: number; n: number; image_size: number; files: Record<string, string>; hash: string };
  assert.equal(m.format, 1);
  assert.deepEqual(m.generator, { name: "diffx-art", version: "1" });
  assert.equal(m.seed, 7);
  assert.equal(m.n, 6);
  assert.equal(m.image_size, 32);
  for (const f of listFiles(r.dir).filter((f) => f !== "manifest.json")) assert.equal(m.files[f], sha256File(path.join(r.dir, f)), f);
  // the hash is the sha256 of the `sha256sum`-style listing, computed here independently
  const listing = Object.keys(m.files).sort().map((f) => `${m.files[f]}  ${f}\n`).join("");
  assert.equal(m.hash, createHash("sha256").update(listing).digest("hex"));
  assert.equal(datasetHash(m.files), m.hash);
});

test("a smaller build is a prefix of a larger one", () => {
  const root = tempDir();
  const small = loadDataset(buildDataset(artCfg, path.join(root, "s")).dir);
  const big = loadDataset(buildDataset({ ...artCfg, n: 9 }, path.join(root, "b")).dir);
  assert.deepEqual(big.pairs.slice(0, 6), small.pairs);
  for (const p of small.pairs) assert.equal(sha256File(path.join(small.dir, p.image)), sha256File(path.join(big.dir, p.image)));
});

test("verify names a flipped byte and a missing file", () => {
  const root = tempDir();
  const r = buildDataset(renderCfg, path.join(root, "d"));
  assert.deepEqual(verifyDataset(r.dir), { ok: true, hash: r.hash, changed: [], missing: [], checked: 13 });
  const target = path.join(r.dir, "images", "0003.png");
  const bytes = fs.readFileSync(target);
  bytes[bytes.length - 20] ^= 0x01;
  fs.writeFileSync(target, bytes);
  fs.rmSync(path.join(r.dir, "sketches", "0001.png"));
  const v = verifyDataset(r.dir);
  assert.equal(v.ok, false);
  assert.deepEqual(v.changed, ["images/0003.png"]);
  assert.deepEqual(v.missing, ["sketches/0001.png"]);
  // an edited pairs.jsonl and a manifest whose hash was edited are reported too
  const p = path.join(r.dir, "pairs.jsonl");
  fs.writeFileSync(p, fs.readFileSync(p, "utf8").replace(/"yaw":-?\d+/, '"yaw":1000'));
  const m = path.join(r.dir, "manifest.json");
  fs.writeFileSync(m, fs.readFileSync(m, "utf8").replace(r.hash, "0".repeat(64)));
  assert.deepEqual(verifyDataset(r.dir).changed, ["images/0003.png", "pairs.jsonl", "manifest.json"]);
});

test("reuse an identical dataset untouched; refuse a different one; --force replaces", () => {
  const root = tempDir();
  const dir = path.join(root, "d");
  const first = buildDataset(artCfg, dir);
  assert.equal(first.reused, false);
  const manifest = path.join(dir, "manifest.json");
  const before = fs.statSync(manifest).mtimeMs;
  fs.writeFileSync(path.join(dir, "contact.png"), "not part of the dataset");
  const again = buildDataset(artCfg, dir);
  assert.equal(again.reused, true);
  assert.equal(fs.statSync(manifest).mtimeMs, before);
  assert.throws(() => buildDataset({ ...artCfg, seed: 8 }, dir), (e: unknown) => e instanceof UsageError && /already holds a different dataset/.test(e.message) && /--force/.test(e.message));
  assert.equal(verifyDataset(dir).hash, first.hash, "refused build left the old dataset");
  const forced = buildDataset({ ...artCfg, seed: 8 }, dir, { force: true });
  assert.equal(forced.replaced, true);
  assert.notEqual(forced.hash, first.hash);
  assert.equal(verifyDataset(dir).ok, true);
  // no staging or old folders left behind
  assert.deepEqual(fs.readdirSync(root), ["d"]);
});

test("a tampered identical dataset is not silently reused", () => {
  const root = tempDir();
  const dir = path.join(root, "d");
  buildDataset(artCfg, dir);
  const f = path.join(dir, "images", "0002.png");
  const b = fs.readFileSync(f);
  b[40] ^= 0xff;
  fs.writeFileSync(f, b);
  assert.throws(() => buildDataset(artCfg, dir), (e: unknown) => e instanceof UsageError && e.message.includes("images/0002.png"));
  assert.equal(buildDataset(artCfg, dir, { force: true }).reused, false);
  assert.equal(verifyDataset(dir).ok, true);
});

test("a folder that is not a dataset is never replaced, even with force", () => {
  const root = tempDir();
  const dir = path.join(root, "mine");
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, "notes.txt"), "precious");
  for (const force of [false, true]) assert.throws(() => buildDataset(artCfg, dir, { force }), (e: unknown) => e instanceof UsageError && e.message.includes("not a diffx dataset"));
  assert.equal(fs.readFileSync(path.join(dir, "notes.txt"), "utf8"), "precious");
});

test("loadDataset: clear errors naming the file and line", () => {
  const root = tempDir();
  const r = buildDataset(artCfg, path.join(root, "d"));
  const pairsFile = path.join(r.dir, "pairs.jsonl");
  const good = fs.readFileSync(pairsFile, "utf8");
  const lines = good.trimEnd().split("\n");

  assert.throws(() => loadDataset(path.join(root, "nope")), (e: unknown) => e instanceof UsageError && /dataset folder not found/.test(e.message));
  const expectError = (text: string, re: RegExp): void => {
    fs.writeFileSync(pairsFile, text);
    assert.throws(() => loadDataset(r.dir), (e: unknown) => e instanceof UsageError && re.test(e.message), re.source);
  };
  expectError([lines[0], "{not json", ...lines.slice(2)].join("\n") + "\n", /pairs\.jsonl:2: invalid JSON/);
  const rec = JSON.parse(lines[2]) as PairRecord;
  expectError([...lines.slice(0, 2), JSON.stringify({ ...rec, image: "../x.png" }), ...lines.slice(3)].join("\n") + "\n", /pairs\.jsonl:3: image: must be a relative path/);
  expectError([...lines.slice(0, 3), JSON.stringify({ ...rec, id: JSON.parse(lines[0]).id }), ...lines.slice(4)].join("\n") + "\n", /pairs\.jsonl:4: duplicate id '0000' \(first on line 1\)/);
  expectError([...lines.slice(0, 4), JSON.stringify({ ...rec, captoin: "typo" }), ...lines.slice(5)].join("\n") + "\n", /pairs\.jsonl:5: .*captoin/);
  expectError(lines.slice(0, 5).join("\n") + "\n", /n is 6 but pairs\.jsonl has 5 records/);
  fs.writeFileSync(pairsFile, good);
  fs.rmSync(path.join(r.dir, "images", "0004.png"));
  assert.throws(() => loadDataset(r.dir), (e: unknown) => e instanceof UsageError && /pairs\.jsonl:5: file images\/0004\.png of pair '0004' not found/.test(e.message));

  const m = path.join(r.dir, "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(m, "utf8"));
  fs.writeFileSync(m, JSON.stringify({ ...manifest, format: 99 }));
  assert.throws(() => loadDataset(r.dir), (e: unknown) => e instanceof UsageError && /manifest\.json: dataset format 99 is not supported/.test(e.message));
  fs.rmSync(m);
  assert.throws(() => loadDataset(r.dir), (e: unknown) => e instanceof UsageError && /manifest\.json: not found/.test(e.message));
});

test("openDataset builds on first use, then checks settings and integrity", () => {
  const cwd = tempDir();
  const ds = openDataset(artCfg, { cwd });
  assert.equal(ds.dir, path.join(cwd, "datasets", "a"));
  assert.equal(ds.pairs.length, 6);
  assert.equal(openDataset(artCfg, { cwd }).hash, ds.hash);
  assert.throws(() => openDataset({ ...artCfg, seed: 99 }, { cwd }), (e: unknown) => e instanceof UsageError && /seed 7 \(config: 99\)/.test(e.message));
  const f = path.join(ds.dir, "images", "0001.png");
  const b = fs.readFileSync(f);
  b[50] ^= 1;
  fs.writeFileSync(f, b);
  assert.throws(() => openDataset(artCfg, { cwd }), (e: unknown) => e instanceof RuntimeFailure && e.message.includes("images/0001.png changed"));
  assert.throws(() => openDataset(datasetSchema.parse({ kind: "folder" }), { cwd }), (e: unknown) => e instanceof UsageError && /dataset\.path/.test(e.message));
  assert.equal(openDataset(datasetSchema.parse({ kind: "folder", path: ds.dir }), { cwd, verify: false }).hash, ds.hash);
});
