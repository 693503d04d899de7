/**
 * Extreme but finite inputs through the real CLI (issue 21, last paragraph): huge and tiny
 * values, long and wide tables, feature files beyond float64's comfort, import folders full of
 * things that are not pairs, and datasets that `data verify` must judge as `train` does. Every
 * case gives a result that matches numpy/scipy (test/fixtures/extreme/make_extreme.py), a clear
 * error, or a warning — never a silent inf/NaN with exit 0, a stack overflow or "internal error" —
 * and leaves the working folder as it was.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, runCli, tempDir, type CliResult } from "../helpers/cli.js";
import { fid } from "../../src/metrics/fid.js";
import { lineChartSvg } from "../../src/report/line-chart.js";
import { parseNpy } from "../../src/metrics/feature-files.js";
import { artImportFolder, assertRefused, assertUntouched, bombPng, goodPng, npyFloat32, rehashDatasetManifest, TEXT_BODY, withDataset, writeConfig } from "./helpers.js";
import { assertClose } from "../stats/helpers.js";
import { PNG } from "pngjs";

const FIX = path.join(ROOT, "test", "fixtures", "extreme");
const expected = JSON.parse(fs.readFileSync(path.join(FIX, "expected.json"), "utf8")) as {
  huge: Paired;
  tiny: Paired;
  mixed: Paired;
  long: { n: number; wins: number; losses: number; ties: number; sign_p: number; wilcoxon_p: number; wilcoxon_n: number; t_p: number };
  fid_unit: number;
  kid_small: { scale: number; kid: number };
};
interface Paired {
  mean_a: number;
  sd_a: number;
  mean_b: number;
  sd_b: number;
  t: number;
  p: number;
}

const cwd = fs.realpathSync(tempDir("diffx-extreme-"));
const DATASET = path.join(cwd, "datasets", "bad-art");
let textConfig = "";

/** Run diffx in the working folder and check that it created or changed nothing there. */
function run(label: string, args: string[]): CliResult {
  const r = assertUntouched([cwd], () => runCli(args, { cwd }), label);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${label}:\n${r.stderr}`);
  return r;
}

function input(name: string, content: string | Buffer): string {
  const f = path.join(cwd, "inputs", name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, content);
  return f;
}

/** A .npy of the fixture features times `scale` (float64). */
function scaledFeatures(name: string, scale: number): string {
  const rows = parseNpy(fs.readFileSync(path.join(FIX, name)), name);
  const n = rows.length, d = rows[0]!.length;
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${n}, ${d}), }`;
  header += " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64) + "\n";
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  pre.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(n * d * 8);
  rows.forEach((row, i) => row.forEach((v, j) => data.writeDoubleLE(v * scale, (i * d + j) * 8)));
  return input(`${name.replace(".npy", "")}-x${scale}.npy`, Buffer.concat([pre, Buffer.from(header, "latin1"), data]));
}

/** A copy of the built dataset with one file changed by `edit` and the manifest re-hashed, so only the content is odd. */
function derivedDataset(name: string, edit: (dir: string) => void): string {
  const dir = path.join(cwd, "hand", name);
  fs.cpSync(DATASET, dir, { recursive: true });
  edit(dir);
  rehashDatasetManifest(dir);
  return dir;
}

before(() => {
  textConfig = writeConfig(cwd, "text.yaml", TEXT_BODY);
  const r = runCli(["-q", "data", "build", textConfig], { cwd });
  if (r.code !== 0) throw new Error(`data build failed: ${r.stderr}`);
});

// ---- stats

interface StatsJson {
  summary: Record<string, { mean: number; sd: number }>;
  rm_anova: { F: number | null; p: number | null };
  paired: { sign_test: { wins: number; losses: number; ties: number; p: number }; wilcoxon: { n: number; p: number; method: string } };
  posthoc: { t: number | null; p: number | null }[];
  friedman: { p_method: string; p: number };
  warnings: string[];
}

function statsJson(label: string, file: string): StatsJson {
  const r = run(label, ["--json", "stats", file]);
  assert.equal(r.code, 0, `${label}: ${r.stderr}`);
  return JSON.parse(r.stdout) as StatsJson;
}

for (const name of ["huge", "tiny", "mixed"] as const) {
  test(`stats of a table at ${name} scale: means, sds, t and p as scipy gives them, nothing infinite, no warning`, () => {
    const out = statsJson(name, path.join(FIX, `${name}.csv`));
    const ref = expected[name];
    assertClose(out.summary["a"]!.mean, ref.mean_a, 1e-9, "mean a");
    assertClose(out.summary["a"]!.sd, ref.sd_a, 1e-9, "sd a");
    assertClose(out.summary["b"]!.mean, ref.mean_b, 1e-9, "mean b");
    assertClose(out.summary["b"]!.sd, ref.sd_b, 1e-9, "sd b");
    assertClose(out.posthoc[0]!.t!, ref.t, 1e-9, "t");
    assertClose(out.posthoc[0]!.p!, ref.p, 1e-9, "p");
    assertClose(out.rm_anova.p!, ref.p, 1e-9, "rm p = paired t p");
    assert.deepEqual(out.warnings, []);
  });
}

test("stats of variants differing by the same amount on every fold: F and t are infinite, and warnings say why", () => {
  const f = input("constdiff.csv", "fold,variant,value\n0,a,5\n0,b,6\n1,a,7\n1,b,8\n2,a,5\n2,b,6\n");
  const r = run("constant difference", ["stats", f]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: the variants differ by exactly the same amounts on every fold .*F is infinite and its p 0 — a degenerate case, not evidence/);
  assert.match(r.stderr, /warning: a − b is the same on every fold: their paired t-test has zero variance/);
  const same = input("same.csv", "fold,variant,value\n0,a,5\n0,b,5\n1,a,7\n1,b,7\n");
  const out = statsJson("identical variants", same);
  assert.equal(out.rm_anova.F, null);
  assert.ok(out.warnings.some((w) => /score the same on every fold .*: the repeated-measures ANOVA has no variance to test/.test(w)), out.warnings.join("\n"));
  assert.ok(out.warnings.some((w) => /every fold ties all variants: Friedman/.test(w)), out.warnings.join("\n"));
});

test("stats of a 40 000-row table (20 000 folds): sign test and normal-approximation Wilcoxon as scipy gives them", () => {
  const ref = expected.long;
  const lines = ["fold,variant,value"];
  for (let i = 0; i < ref.n; i++) lines.push(`${i},a,${(i * 7919) % 1000}`, `${i},b,${(i * 104729 + 13) % 997}`);
  const out = statsJson("long table", input("long.csv", lines.join("\n") + "\n"));
  const { sign_test: s, wilcoxon: w } = out.paired;
  assert.deepEqual([s.wins, s.losses, s.ties], [ref.wins, ref.losses, ref.ties]);
  assertClose(s.p, ref.sign_p, 1e-9, "sign p");
  assert.equal(w.method, "normal");
  assert.equal(w.n, ref.wilcoxon_n);
  assertClose(w.p, ref.wilcoxon_p, 1e-9, "wilcoxon p");
  assertClose(out.posthoc[0]!.p!, ref.t_p, 1e-9, "t p");
});

test("stats of a wide table (5 folds × 20 variants): Monte-Carlo Friedman instead of listing 20! orders per fold", () => {
  const lines = ["fold,variant,value"];
  for (let f = 0; f < 5; f++) for (let v = 0; v < 20; v++) lines.push(`${f},v${v},${(f * 37 + v * 11) % 23}`);
  const out = statsJson("wide table", input("wide.csv", lines.join("\n") + "\n"));
  assert.equal(out.friedman.p_method, "monte-carlo");
  assert.equal(out.posthoc.length, 190);
});

// ---- fid on feature files

test("fid in-process: features times 1e150 give 1e300 × scipy's FID (the squares would overflow)", () => {
  const read = (n: string, s: number): Float64Array[] => parseNpy(fs.readFileSync(path.join(FIX, n)), n).map((r) => r.map((v) => v * s));
  assertClose(fid(read("feat_a.npy", 1), read("feat_b.npy", 1)), expected.fid_unit, 1e-9, "FID at unit scale");
  assertClose(fid(read("feat_a.npy", 1e150), read("feat_b.npy", 1e150)), expected.fid_unit * 1e300, 1e-9, "FID at 1e150");
  assertClose(fid(read("feat_a.npy", 1e-150), read("feat_b.npy", 1e-150)) * 1e300, expected.fid_unit, 1e-9, "FID at 1e-150");
});

test("fid of features times 1e-10: FID and KID keep their digits (KID used to round to 0)", () => {
  const s = expected.kid_small.scale;
  const r = run("fid 1e-10", ["--json", "fid", scaledFeatures("feat_a.npy", s), scaledFeatures("feat_b.npy", s), "--bootstrap", "0"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { fid: number; kid: number };
  assertClose(out.fid, expected.fid_unit * s * s, 1e-8, "FID");
  assertClose(out.kid, expected.kid_small.kid, 1e-8, "KID");
});

test("fid of features beyond float64's range for FID or KID: exit 2 naming the magnitude and the remedy", () => {
  const kidOver = run("fid 1e60", ["fid", scaledFeatures("feat_a.npy", 1e60), scaledFeatures("feat_b.npy", 1e60)]);
  assertRefused(kidOver, { code: 2, message: [/KID of .*feat_a-x1e\+60\.npy and .* is beyond the float64 range .* reach ±[0-9.]+e\+60/, /Divide both sets by the same constant/] }, "fid 1e60");
  const fidOver = run("fid 1e200", ["fid", scaledFeatures("feat_a.npy", 1e200), scaledFeatures("feat_b.npy", 1e200)]);
  assertRefused(fidOver, { code: 2, message: [/FID of .* is beyond the float64 range .* reach ±[0-9.]+e\+200/, /FID divides by c²/] }, "fid 1e200");
});

test("fid of features times 1e-300: a result with a warning that FID and KID underflow", () => {
  const r = run("fid 1e-300", ["fid", scaledFeatures("feat_a.npy", 1e-300), scaledFeatures("feat_b.npy", 1e-300), "--bootstrap", "0"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: the features of .* are at most ±[0-9.]+e-300: FID and KID .* fall below float64's smallest normal number/);
});

test("fid of a .npy with zero rows, or with a float32 Infinity: exit 2 naming the file (and row, column)", () => {
  const ok = scaledFeatures("feat_a.npy", 1);
  const zero = input("zero.npy", npyFloat32([])); // shape (0, 0)
  assertRefused(run("zero rows", ["fid", zero, ok]), { code: 2, message: [/zero\.npy: 0 samples; FID\/KID need at least 2 samples per set/] }, "zero rows");
  const inf = input("inf.npy", npyFloat32([[1, 2], [3, 4e38 * 10]]));
  assertRefused(run("infinity", ["fid", inf, inf]), { code: 2, message: [/inf\.npy: row 2, column 2: value is Infinity/] }, "infinity");
});

// ---- import never drops a file without saying so

test("import names every file it leaves out: hidden, orphan captions, files beside images/, zero-byte non-images", () => {
  const from = path.join(cwd, "import-odd");
  artImportFolder(path.join(from, "images"));
  fs.writeFileSync(path.join(from, "images", "orphan.txt"), "a caption with no picture");
  fs.writeFileSync(path.join(from, "images", ".hidden.png"), goodPng(20, 9));
  fs.writeFileSync(path.join(from, "images", "empty.bin"), "");
  fs.writeFileSync(path.join(from, "stray.png"), goodPng(20, 3));
  fs.writeFileSync(path.join(from, "notes.md"), "mine");
  const out = path.join(cwd, "imports", "odd");
  const r = runCli(["data", "import", "--kind", "art", "--from", from, "--size", "16", "--out", out], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: not imported .*: images\/empty\.bin, images\/orphan\.txt, notes\.md, stray\.png; hidden: images\/\.hidden\.png\n/);
  assert.match(r.stdout, /3 pairs/);
});

test("import of a link named like an image that points nowhere: exit 2 naming it, nothing written", () => {
  const from = artImportFolder(path.join(cwd, "import-dangling"));
  fs.symlinkSync(path.join(cwd, "no-such-file.png"), path.join(from, "d.png"));
  fs.writeFileSync(path.join(from, "d.txt"), "the missing one");
  const r = run("dangling link", ["data", "import", "--kind", "art", "--from", from, "--size", "16", "--out", path.join(cwd, "imports", "dangling")]);
  assertRefused(r, { code: 2, message: [/d\.png: a symbolic link to a missing file/] }, "dangling link");
});

// ---- what data verify accepts, train accepts

test("a non-square image in a dataset (manifest consistent): data verify and train both refuse it, naming the file", () => {
  const dir = derivedDataset("non-square", (d) => {
    const png = new PNG({ width: 16, height: 12 });
    png.data.fill(200);
    fs.writeFileSync(path.join(d, "images", "0002.png"), PNG.sync.write(png));
  });
  const message = [/images\/0002\.png: image is 16×12; dataset images must be square/];
  assertRefused(run("verify non-square", ["data", "verify", dir]), { code: 2, message }, "verify non-square");
  const cfg = writeConfig(path.join(cwd, "inputs"), "non-square.yaml", withDataset(TEXT_BODY, `{ kind: folder, path: ${dir} }`));
  assertRefused(run("train non-square", ["train", cfg]), { code: 2, message }, "train non-square");
});

test("a decompression bomb in a dataset (manifest consistent): data verify refuses it as train does", () => {
  const dir = derivedDataset("bomb", (d) => fs.writeFileSync(path.join(d, "images", "0001.png"), bombPng()));
  assertRefused(run("verify bomb", ["data", "verify", dir]), { code: 2, message: [/images\/0001\.png: image too large \(100000×100000 pixels/] }, "verify bomb");
});

test("a dataset whose files all match: data verify still says so", () => {
  const r = run("verify good", ["data", "verify", DATASET]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /all \d+ files match manifest\.json/);
});

// ---- no stack overflow on long data

test("the loss chart of a run logged at 200 000 steps draws (Math.max(...xs) overflowed the call stack)", () => {
  const points: [number, number][] = Array.from({ length: 200_000 }, (_, i) => [i + 1, 1 / (i + 1)]);
  const svg = lineChartSvg([{ name: "loss", points }], { title: "loss", xLabel: "step", yLabel: "loss", logY: true });
  assert.match(svg, /<svg[^]*<\/svg>/);
  assert.match(svg, /2\.0e\+5/, "the x axis reaches step 200 000");
});
