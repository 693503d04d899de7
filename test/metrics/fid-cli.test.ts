/** `diffx fid` through the real CLI: --json keys and values, image folders via onnx:PATH, every error case. */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { writePng, type Image } from "../../src/engine/image.js";
import { runCli, tempDir, type CliResult } from "../helpers/cli.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "../fixtures/metrics");
const npy = (name: string): string => path.join(fixtures, "npy", name);
const fidFixture = JSON.parse(fs.readFileSync(path.join(fixtures, "fid.json"), "utf8")) as { cases: { name: string; a: number[][]; b: number[][]; fid: number; kid_full_set: number }[] };
const onnxFixture = JSON.parse(fs.readFileSync(path.join(fixtures, "onnx-extractor.json"), "utf8")) as {
  images: { height: number; width: number; rgb: number[] }[];
  folders: { a: number[]; b: number[]; fid: number; kid_full_set: number };
};
const dir = tempDir("diffx-fid-cli-");

function writeCsv(file: string, m: number[][]): string {
  fs.writeFileSync(file, m.map((r) => r.map(String).join(",")).join("\n") + "\n");
  return file;
}

/** A usage error: exit 2, one line on stderr naming what is wrong, no stack trace, nothing on stdout. */
function assertUsageError(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, `exit code ${r.code}; stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split("\n").length, 1, `expected one line, got: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error/);
  assert.equal(r.stdout, "");
}

const relErr = (x: number, ref: number): number => Math.abs(x - ref) / Math.abs(ref);

test("fid --json on two CSV feature files: exact keys, values match numpy/scipy", () => {
  const c = fidFixture.cases.find((x) => x.name === "full-rank");
  assert.ok(c);
  const a = writeCsv(path.join(dir, "a.csv"), c.a), b = writeCsv(path.join(dir, "b.csv"), c.b);
  const r = runCli(["fid", a, b, "--json", "--bootstrap", "200"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(out).sort(), ["dims", "features", "fid", "fid_ci95", "kid", "kid_ci95", "kid_std", "n_a", "n_b", "warnings"].sort());
  assert.ok(relErr(out.fid as number, c.fid) <= 1e-9, `${out.fid} vs ${c.fid}`);
  assert.ok(relErr(out.kid as number, c.kid_full_set) <= 1e-9, `${out.kid} vs ${c.kid_full_set}`);
  assert.equal(out.kid_std, 0);
  assert.deepEqual([out.n_a, out.n_b, out.dims], [40, 50, 8]);
  assert.match(out.features as string, /precomputed features read from .*a\.csv and .*b\.csv/);
  const [lo, hi] = out.fid_ci95 as number[];
  assert.ok(lo < c.fid && c.fid < hi);
  assert.ok(Array.isArray(out.warnings));
});

test("fid --json on .npy files; --bootstrap 0 drops the intervals; human output prints small-sample warnings", () => {
  const r = runCli(["fid", npy("f32.npy"), npy("f64.npy"), "--json", "--bootstrap", "0"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(out).sort(), ["dims", "features", "fid", "kid", "kid_std", "n_a", "n_b", "warnings"]);
  assert.deepEqual([out.n_a, out.n_b, out.dims], [5, 4, 3]);

  const c = fidFixture.cases.find((x) => x.name === "rank-deficient");
  assert.ok(c);
  const a = writeCsv(path.join(dir, "rd-a.csv"), c.a), b = writeCsv(path.join(dir, "rd-b.csv"), c.b);
  const h = runCli(["fid", a, b, "--bootstrap", "50", "--kid-subset-size", "10", "--kid-subsets", "20"]);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /^FID {2}75\.4988 {2}\(95% CI/m);
  assert.match(h.stdout, /^KID .* \(std over 20 subsets of 10 \+ 10\)/m);
  assert.match(h.stderr, /warning: n_a = 12 and n_b = 15 below the feature dimension 64/);
});

test("fid on image folders with --features onnx:PATH matches numpy features end to end (PNG and JPEG; a sample folder's grid.png left out)", async () => {
  const images: Image[] = onnxFixture.images.map((im) => ({ width: im.width, height: im.height, channels: 3, data: Uint8Array.from(im.rgb) }));
  const fa = path.join(dir, "imgs-a"), fb = path.join(dir, "imgs-b");
  onnxFixture.folders.a.forEach((i) => writePng(path.join(fa, `img-${i}.png`), images[i]));
  onnxFixture.folders.b.forEach((i) => writePng(path.join(fb, `img-${i}.png`), images[i]));
  fs.writeFileSync(path.join(fa, "notes.txt"), "not an image, ignored\n");
  const model = path.join(fixtures, "onnx", "rgb-conv.onnx");
  const r = runCli(["fid", fa, fb, "--features", `onnx:${model}`, "--input-size", "8", "--normalize", "[-1,1]", "--output-name", "features", "--json", "--bootstrap", "100"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, number | string>;
  assert.ok(relErr(out.fid as number, onnxFixture.folders.fid) < 1e-4, `${out.fid} vs ${onnxFixture.folders.fid}`);
  assert.ok(relErr(out.kid as number, onnxFixture.folders.kid_full_set) < 1e-4, `${out.kid} vs ${onnxFixture.folders.kid_full_set}`);
  assert.deepEqual([out.n_a, out.n_b, out.dims], [5, 5, 4]);
  assert.match(out.features as string, /^onnx:.*rgb-conv\.onnx: ONNX model .*half-pixel bilinear.*\[-1,1\]/);

  // a folder written by `diffx sample`: its samples.jsonl names the samples, so grid.png is not one
  const fs_ = path.join(dir, "imgs-sample-folder");
  fs.cpSync(fa, fs_, { recursive: true });
  writePng(path.join(fs_, "grid.png"), images[onnxFixture.folders.b[0]]);
  fs.writeFileSync(path.join(fs_, "samples.jsonl"), onnxFixture.folders.a.map((i) => JSON.stringify({ file: `img-${i}.png`, index: i }) + "\n").join(""));
  const sf = runCli(["fid", fs_, fb, "--features", `onnx:${model}`, "--input-size", "8", "--normalize", "[-1,1]", "--output-name", "features", "--json", "--bootstrap", "0"]);
  assert.equal(sf.code, 0, sf.stderr);
  const sfOut = JSON.parse(sf.stdout) as Record<string, number>;
  assert.equal(sfOut.n_a, 5, "grid.png is not counted");
  assert.ok(relErr(sfOut.fid, onnxFixture.folders.fid) < 1e-4, `${sfOut.fid} vs ${onnxFixture.folders.fid}`);

  const fj = path.join(dir, "imgs-jpeg");
  fs.mkdirSync(fj);
  for (const i of [0, 3]) {
    const im = images[i];
    await sharp(Buffer.from(im.data), { raw: { width: im.width, height: im.height, channels: 3 } }).jpeg().toFile(path.join(fj, `img-${i}.JPG`));
  }
  const j = runCli(["fid", fj, fb, "--features", `onnx:${model}`, "--json", "--bootstrap", "0"]);
  assert.equal(j.code, 0, j.stderr);
  assert.equal((JSON.parse(j.stdout) as Record<string, number>).n_a, 2);
});

test("fid errors: exit 2, one line naming the file (and row), no stack trace", () => {
  assertUsageError(runCli(["fid", npy("f32.npy"), npy("d4.npy")]), /f32\.npy has 3 features per sample but .*d4\.npy has 4/);
  assertUsageError(runCli(["fid", npy("one-row.npy"), npy("f32.npy")]), /one-row\.npy: 1 sample; FID\/KID need at least 2 samples/);
  assertUsageError(runCli(["fid", npy("f32.npy"), npy("nan-row3.npy"), "--json"]), /nan-row3\.npy: row 3, column 2: value is NaN/);
  assertUsageError(runCli(["fid", npy("not-npy.npy"), npy("f32.npy")]), /not-npy\.npy: bad \.npy file: missing the \\x93NUMPY magic/);
  assertUsageError(runCli(["fid", npy("int64.npy"), npy("f32.npy")]), /int64\.npy: bad \.npy file: dtype '<i8' is not supported \(need float32 or float64\)/);
  const bad = path.join(dir, "bad.csv");
  fs.writeFileSync(bad, "1,2,3\n4,5,6\n7,oops,9\n");
  assertUsageError(runCli(["fid", bad, npy("f32.npy")]), /bad\.csv: row 3, column 2: 'oops' is not a finite number/);
  const ragged = path.join(dir, "ragged.csv");
  fs.writeFileSync(ragged, "1,2,3\n4,5\n");
  assertUsageError(runCli(["fid", npy("f32.npy"), ragged]), /ragged\.csv: row 2 has 2 values, row 1 has 3/);

  const imgs = path.join(dir, "imgs-err");
  writePng(path.join(imgs, "a.png"), { width: 4, height: 4, channels: 3, data: new Uint8Array(48) });
  writePng(path.join(imgs, "b.png"), { width: 4, height: 4, channels: 3, data: new Uint8Array(48).fill(200) });
  // the default extractor is the committed domain CNN: FID of a folder with itself is 0
  const self = runCli(["fid", imgs, imgs, "--json"]);
  assert.equal(self.code, 0, self.stderr);
  const selfJson = JSON.parse(self.stdout) as { fid: number; dims: number; features: string };
  assert.equal(selfJson.dims, 128);
  assert.match(selfJson.features, /^domain: diffx domain CNN/);
  assert.ok(Math.abs(selfJson.fid) < 1e-6, `FID(X, X) = ${selfJson.fid}`);
  assertUsageError(runCli(["fid", imgs, npy("f32.npy")]), /imgs-err is an image folder but .*f32\.npy is a feature file/);
  assertUsageError(runCli(["fid", npy("f32.npy"), npy("f64.npy"), "--features", "domain"]), /--features applies to image folders/);
  assertUsageError(runCli(["fid", path.join(dir, "nope"), npy("f32.npy")]), /nope: no such file or folder/);
  assertUsageError(runCli(["fid", npy("f32.npy"), npy("f64.npy"), "--bootstrap", "-1"]), /--bootstrap must be an integer ≥ 0, got '-1'/);
  assertUsageError(runCli(["fid", imgs, imgs, "--features", "onnx:/nonexistent/model.onnx"]), /\/nonexistent\/model\.onnx: ONNX model file not found/);
});

test("fid --features domain runs its network on the global --backend and says which", () => {
  const imgs = path.join(dir, "imgs-backend");
  writePng(path.join(imgs, "a.png"), { width: 4, height: 4, channels: 3, data: new Uint8Array(48).fill(30) });
  writePng(path.join(imgs, "b.png"), { width: 4, height: 4, channels: 3, data: new Uint8Array(48).fill(220) });
  for (const backend of ["cpu", "wasm"]) {
    const r = runCli(["--backend", backend, "fid", imgs, imgs, "--features", "domain", "--bootstrap", "0", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { backend: string }).backend, backend);
  }
  const human = runCli(["--backend", "cpu", "fid", imgs, imgs, "--bootstrap", "0"]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^backend: cpu$/m);
});
