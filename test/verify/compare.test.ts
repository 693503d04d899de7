/**
 * The comparison rules of `diffx verify`, on hand-made inputs whose answers are worked out by
 * hand: relative closeness, metrics records without timing fields, checkpoint tensors (relative
 * to the tensor's scale, floored at the file's RMS), PNG pixels, numbers in text, JSON paths,
 * and when a comparison may be exact.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { encodePng } from "../../src/engine/image.js";
import { close, compareJsonValues, compareMetrics, compareOutputFile, comparePngFiles, compareTensorFiles, compareTextNumbers, MismatchList, ROWS_PER_FILE } from "../../src/runs/verify-compare.js";
import { chooseComparison } from "../../src/runs/verify-env.js";
import type { BackendRecord } from "../../src/runs/manifest.js";
import { tempDir } from "../helpers/cli.js";

const rows = (l: MismatchList): string[][] => l.finish().map((m) => [m.file, m.where, m.expected, m.got]);

test("close: |a − b| ≤ rtol · max(|a|, |b|), NaN equals NaN, infinities only themselves", () => {
  assert.equal(close(1, 1.0009, 1e-3), true); // 9e-4 ≤ 1.0009e-3
  assert.equal(close(1, 1.002, 1e-3), false); // 2e-3 > 1.002e-3
  assert.equal(close(-4, -4.003, 1e-3), true); // 3e-3 ≤ 4.003e-3
  assert.equal(close(0, 0, 0), true);
  assert.equal(close(0, 1e-300, 1e-3), false);
  assert.equal(close(Number.NaN, Number.NaN, 0), true);
  assert.equal(close(Infinity, Infinity, 0), true);
  assert.equal(close(1, Infinity, 1), false);
  assert.equal(close(0.1 + 0.2, 0.3, 0), false); // exact means exact
});

const EXPECTED = ['{"step":1,"loss":0.5,"lr":0.001,"grad_norm":2,"steps_per_s":3.1}', '{"step":2,"loss":0.4,"lr":0.001,"grad_norm":1.5,"steps_per_s":2.9,"kl_bpd":1.25}', ""].join("\n");
const opts = (rtol: number, upToStep?: number) => ({ file: "metrics.jsonl", ignore: ["steps_per_s"], rtol, upToStep });

test("metrics: records are matched by step and compared field by field without the timing fields", () => {
  let l = new MismatchList("train");
  const sameButTiming = EXPECTED.replace("3.1", "9.9").replace("2.9", "0.1");
  assert.equal(compareMetrics(EXPECTED, sameButTiming, opts(0), l), 9); // 4 + 5 values
  assert.deepEqual(rows(l), []);

  const nudged = EXPECTED.replace('"loss":0.4,', '"loss":0.4000001,');
  l = new MismatchList("train");
  compareMetrics(EXPECTED, nudged, opts(0), l);
  assert.deepEqual(rows(l), [["metrics.jsonl", "step 2: loss", "0.4", "0.4000001"]]);
  l = new MismatchList("train");
  compareMetrics(EXPECTED, nudged, opts(1e-3), l); // 2.5e-7 relative
  assert.deepEqual(rows(l), []);
  l = new MismatchList("train");
  compareMetrics(EXPECTED, EXPECTED.replace('"loss":0.4,', '"loss":0.401,'), opts(1e-3), l); // 2.5e-3 relative
  assert.equal(l.count, 1);

  l = new MismatchList("train");
  compareMetrics(EXPECTED, EXPECTED.replace(',"kl_bpd":1.25', ""), opts(0), l);
  assert.deepEqual(rows(l), [["metrics.jsonl", "step 2: kl_bpd", "1.25", "(absent)"]]);

  l = new MismatchList("train");
  compareMetrics(EXPECTED, EXPECTED.split("\n")[0], opts(0), l);
  assert.deepEqual(rows(l), [["metrics.jsonl", "step 2", "a record", "(no record)"]]);
  l = new MismatchList("train");
  compareMetrics(EXPECTED, EXPECTED.split("\n")[0], opts(0, 1), l); // --steps 1: step 2 is not compared
  assert.deepEqual(rows(l), []);

  l = new MismatchList("train");
  compareMetrics(EXPECTED, EXPECTED + "{torn", opts(0), l);
  assert.deepEqual(rows(l), [["metrics.jsonl", "line 3 (re-run)", "a JSON record with a step", '"{torn"']]);
});

function writeTensors(dir: string, name: string, values: number[]): string {
  const bin = path.join(dir, `${name}.bin`);
  fs.writeFileSync(bin, new Uint8Array(new Float32Array(values).buffer));
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ w: { shape: [4], offset: 0, length: 4 }, b: { shape: [2], offset: 4, length: 2 } }));
  return bin;
}

test("checkpoint tensors: max|Δ| ≤ rtol · max(max|x| of the tensor, RMS of the file)", () => {
  const dir = tempDir();
  // w: max|x| = 2 → allowed 2e-3. b is numerically zero: RMS of the file = √(5.3125/6) = 0.94097 → allowed 9.41e-4.
  const a = [1, -2, 0.5, 0.25, 1e-9, -1e-9];
  const expected = writeTensors(dir, "a", a);
  let l = new MismatchList("train");
  assert.equal(compareTensorFiles(expected, writeTensors(dir, "ok", [1, -2 + 1.9e-3, 0.5, 0.25, 1e-9 + 5e-4, -1e-9]), 1e-3, "ema.bin", l), 2);
  assert.deepEqual(rows(l), []);
  l = new MismatchList("train");
  compareTensorFiles(expected, writeTensors(dir, "bad", [1, -2 + 2.1e-3, 0.5, 0.25, 1e-9 + 1e-3, -1e-9]), 1e-3, "ema.bin", l);
  const r = rows(l);
  assert.deepEqual(
    r.map((x) => x.slice(0, 2)),
    [
      ["ema.bin", "b"],
      ["ema.bin", "w"],
    ],
  );
  assert.match(r[0][2], /rtol 0\.001 × file RMS 0\.941/);
  assert.match(r[1][2], /max\|Δ\| ≤ 0\.002 \(rtol 0\.001 × max\|x\| 2\)/);
  assert.match(r[1][3], /max\|Δ\| = 0\.0021/);
  l = new MismatchList("train");
  compareTensorFiles(expected, writeTensors(dir, "short", [1, -2, 0.5]), 1e-3, "ema.bin", l);
  assert.deepEqual(rows(l), [["ema.bin", "size", "6 floats", "3 floats"]]);
});

test("PNG images: every value within max(1, ⌈255·rtol⌉) levels", () => {
  const dir = tempDir();
  const png = (name: string, data: number[]): string => {
    const f = path.join(dir, `${name}.png`);
    fs.writeFileSync(f, encodePng({ width: 2, height: 1, channels: 3, data: new Uint8Array(data) }));
    return f;
  };
  const a = png("a", [10, 20, 30, 40, 50, 60]);
  let l = new MismatchList("sample");
  comparePngFiles(a, png("one", [11, 20, 30, 40, 50, 59]), 1e-3, "grid.png", l);
  assert.deepEqual(rows(l), []);
  l = new MismatchList("sample");
  comparePngFiles(a, png("two", [12, 20, 30, 40, 50, 60]), 1e-3, "grid.png", l);
  assert.deepEqual(rows(l), [["grid.png", "pixels", "every value within 1 level", "1 values off, by up to 2"]]);
  l = new MismatchList("sample");
  comparePngFiles(a, png("two-loose", [12, 20, 30, 40, 50, 60]), 0.01, "grid.png", l); // ⌈2.55⌉ = 3 levels
  assert.deepEqual(rows(l), []);
});

test("text with numbers (SVG): the text must be equal, the numbers within rtol", () => {
  const a = '<path d="M 1.5 2 L 30 -4e-2"/>';
  let l = new MismatchList("train");
  assert.equal(compareTextNumbers(a, '<path d="M 1.5001 2 L 30 -4.00001e-2"/>', 1e-3, "loss.svg", l), 4);
  assert.deepEqual(rows(l), []);
  l = new MismatchList("train");
  compareTextNumbers(a, '<path d="M 1.5001 2 L 30 -4e-2"/>', 0, "loss.svg", l);
  assert.deepEqual(rows(l), [["loss.svg", "number #1", "1.5", "1.5001"]]);
  l = new MismatchList("train");
  compareTextNumbers(a, '<line d="M 1.5 2 L 30 -4e-2"/>', 1e-3, "loss.svg", l);
  assert.equal(rows(l)[0][1], "text (apart from numbers) differs at character 1");
});

test("JSON values: rows name the path of each difference", () => {
  const l = new MismatchList("eval");
  compareJsonValues({ a: { b: [1, 2] }, c: "x", e: [1] }, { a: { b: [1, 2.5] }, c: "y", d: 1, e: [1, 2] }, 1e-3, "report.json", l);
  assert.deepEqual(rows(l), [
    ["report.json", "a.b[1]", "2", "2.5"],
    ["report.json", "c", '"x"', '"y"'],
    ["report.json", "d", "(absent)", "1"],
    ["report.json", "e", "1 items", "2 items"],
  ]);
});

test("whole files in exact mode: different bytes give one row with both hashes; metrics differing only in timing match", () => {
  const dir = tempDir();
  const f = (name: string, text: string): string => {
    fs.writeFileSync(path.join(dir, name), text);
    return path.join(dir, name);
  };
  const ctx = { comparison: "exact" as const, rtol: 1e-3, timingFields: ["steps_per_s"] };
  let l = new MismatchList("train");
  compareOutputFile("split.bin", f("x.bin", "abc"), f("y.bin", "abd"), ctx, l);
  assert.deepEqual(rows(l), [["split.bin", "", "sha256 ba7816bf8f01cfea…", "sha256 a52d159f262b2c6d…"]]); // sha256("abc"), sha256("abd")
  l = new MismatchList("train");
  compareOutputFile("metrics.jsonl", f("m1.jsonl", EXPECTED), f("m2.jsonl", EXPECTED.replace("3.1", "7")), ctx, l);
  assert.deepEqual(rows(l), []);
});

test("JSON in exact mode: a cell.json differing only in its measured sampling cost matches; its NFE and its scores are compared", () => {
  const dir = tempDir();
  const cell = (fid: number, nfe: number, seconds: number, threads: number): string => {
    const file = path.join(dir, `cell-${fid}-${nfe}-${seconds}-${threads}.json`);
    const engine = { name: "onnx", backend: "cpu", threads, host: "A CPU (2 cores)" };
    fs.writeFileSync(file, JSON.stringify({ format: "diffx-eval-cell/3", scores: { fid, cost: { nfe, images: 4, seconds: 4 * seconds, seconds_per_image: seconds, images_per_s: 1 / seconds, engine, concurrent_trainings: 0 } } }));
    return file;
  };
  const ctx = { comparison: "exact" as const, rtol: 1e-3, timingFields: ["steps_per_s"] };
  let l = new MismatchList("eval");
  compareOutputFile("eval/fold-0/ddim-4/cell.json", cell(12.5, 8, 0.25, 2), cell(12.5, 8, 0.31, 4), ctx, l);
  assert.deepEqual(rows(l), [], "times, rates and the engine that measured them are left out");
  l = new MismatchList("eval");
  compareOutputFile("eval/fold-0/ddim-4/cell.json", cell(12.5, 8, 0.25, 2), cell(12.5000001, 16, 0.25, 2), ctx, l);
  assert.deepEqual(rows(l), [
    ["eval/fold-0/ddim-4/cell.json", "scores.cost.nfe", "8", "16"],
    ["eval/fold-0/ddim-4/cell.json", "scores.fid", "12.5", "12.5000001"],
  ]);
});

test("at most ROWS_PER_FILE rows are listed per file, then one '… and N more' row", () => {
  const l = new MismatchList("train");
  for (let i = 0; i < ROWS_PER_FILE + 5; i++) l.add("metrics.jsonl", `step ${i}`, "1", "2");
  l.add("other", "", "a", "b");
  const out = l.finish();
  assert.equal(l.count, ROWS_PER_FILE + 6);
  assert.equal(out.length, ROWS_PER_FILE + 2);
  assert.equal(out[out.length - 1].where, "… and 5 more");
});

test("exact comparison only for wasm/cpu with the recorded version, threads and workers", () => {
  const rec: BackendRecord = { name: "wasm", version: "4.22.0", threads: 2, skipped: [], devices: ["cpu"], workers: 1 };
  const here = { name: "wasm", version: "4.22.0", threads: 2, workers: 1 };
  assert.deepEqual(chooseComparison(rec, here, true), { comparison: "exact", notes: [] });
  const threads = chooseComparison(rec, { ...here, threads: 4 }, true);
  assert.equal(threads.comparison, "numeric");
  assert.match(threads.notes.join(), /threads differ: recorded 2, here 4/);
  assert.equal(chooseComparison(rec, { ...here, workers: 2 }, true).comparison, "numeric");
  assert.equal(chooseComparison(rec, { ...here, workers: 2 }, false).comparison, "exact"); // a sample grid is one process
  assert.match(chooseComparison(rec, { ...here, version: "4.23.0" }, true).notes.join(), /wasm version differs/);
  const gpu = chooseComparison({ ...rec, name: "tensorflow" }, { ...here, name: "tensorflow" }, true);
  assert.equal(gpu.comparison, "numeric");
  assert.match(gpu.notes.join(), /not bit-reproducible/);
  assert.equal(chooseComparison(null, here, true).comparison, "numeric");
});
