/**
 * `diffx eval configs/ci-tiny.yaml --folds 3` through the real CLI in a temporary working folder:
 * the report has every fold × variant cell, its numbers equal a recomputation from the stored
 * files through the metrics and stats APIs, the HTML is self-contained, a re-run reuses the
 * trainings, an interrupted fold resumes to the same result, and --parallel 2 gives the same
 * numbers as a sequential eval.
 *
 * Features: the tiny ONNX model of test/fixtures/metrics (4 dims), so the test does not depend
 * on the domain extractor's weights.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { BIN, ROOT, runCli, tempDir } from "../helpers/cli.js";
import { readPng } from "../../src/engine/image.js";
import { loadExtractor, type FeatureExtractor } from "../../src/metrics/extractor.js";
import { fid } from "../../src/metrics/fid.js";
import { kid } from "../../src/metrics/kid.js";
import { readFeatureFile } from "../../src/metrics/feature-files.js";
import { analyse } from "../../src/stats/index.js";
import type { EvalReport } from "../../src/report/report-types.js";

const CONFIG = path.join(ROOT, "configs", "ci-tiny.yaml");
const ONNX = path.join(ROOT, "test", "fixtures", "metrics", "onnx", "rgb-conv.onnx");
const FEATURES = `eval.features=onnx:${ONNX}`;
const cwd = tempDir("diffx-eval-");

function evalRuns(): string[] {
  const root = path.join(cwd, "runs");
  return fs.existsSync(root) ? fs.readdirSync(root).filter((n) => n.startsWith("ci-tiny-")).sort().map((n) => path.join(root, n)) : [];
}

function readReport(runDir: string): EvalReport {
  return JSON.parse(fs.readFileSync(path.join(runDir, "eval", "report.json"), "utf8")) as EvalReport;
}

function relClose(a: number, b: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

/** Numbers of a cell that must not depend on how or when it was computed. */
function numbers(r: EvalReport): unknown[] {
  return r.cells.map((c) => [c.fold, c.variant, c.fid, c.fid_ci, c.kid, c.kid_std, c.kid_ci, c.n_real, c.n_generated, c.seed, c.checkpoint_step]);
}

let first = "";

test("eval ci-tiny --folds 3 writes report.json/md/html with every fold × variant cell", () => {
  const r = runCli(["eval", CONFIG, "--folds", "3", "--set", FEATURES], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const runs = evalRuns();
  assert.equal(runs.length, 1);
  first = runs[0];
  const report = readReport(first);
  assert.equal(report.format, "diffx-eval-report/1");
  assert.equal(report.cv.k, 3);
  assert.deepEqual(report.variants.map((v) => v.name), ["ddim-4", "ddim-2"]);
  // the ddim-2 variant overrides only the steps: sampler and guidance stay the config's
  assert.deepEqual(report.variants.map((v) => [v.sampler, v.steps, v.guidance, v.training]), [["ddim", 4, 2, "train"], ["ddim", 2, 2, "train"]]);
  const cells = report.cells.map((c) => `${c.fold}/${c.variant}`);
  assert.deepEqual(cells, ["0/ddim-4", "0/ddim-2", "1/ddim-4", "1/ddim-2", "2/ddim-4", "2/ddim-2"]);
  for (const c of report.cells) {
    assert.ok(Number.isFinite(c.fid) && Number.isFinite(c.kid), `${c.fold}/${c.variant} scores`);
    assert.equal(c.n_real, 4);
    assert.equal(c.n_generated, 4);
    assert.ok(c.fid_ci && c.kid_ci, "bootstrap intervals");
    assert.equal(c.text_control, null, "the onnx test extractor predicts no attributes");
  }
  // the folds hold out every pair exactly once
  assert.deepEqual(report.cv.folds.flatMap((f) => f.held_out).sort(), Array.from({ length: 12 }, (_, i) => String(i).padStart(4, "0")));
  assert.ok(report.stats.fid && report.stats.kid, "ANOVA for two variants");
  assert.ok(report.caveats.some((c) => c.includes("share training data")));
  assert.ok(report.caveats.some((c) => c.startsWith("Small samples")));
  assert.equal(report.training.length, 3);
  for (const t of report.training) assert.equal(t.loss.length, 8, "one loss point per logged step");
  // the perceptual loss beside the KL term, every eval_every (4) steps, as the training logged it
  for (const t of report.training) {
    const logged = fs.readFileSync(path.join(first, "eval", t.run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; perceptual?: number });
    assert.deepEqual(t.perceptual, logged.filter((m) => m.perceptual !== undefined).map((m) => [m.step, m.perceptual]));
    assert.deepEqual(t.perceptual?.map(([step]) => step), [4, 8]);
  }
  // what an image cost: NFE = 2 × steps (guidance 2 on a text model), measured time per cell, its mean ± sd over folds per variant
  for (const v of report.variants) {
    const cells = report.cells.filter((c) => c.variant === v.name);
    assert.deepEqual(cells.map((c) => c.cost?.nfe), [2 * v.steps, 2 * v.steps, 2 * v.steps], v.name);
    const s = cells.map((c) => c.cost?.seconds_per_image ?? NaN);
    for (const c of cells) {
      assert.ok(c.cost && c.cost.seconds > 0 && c.cost.images === 4, `${c.fold}/${c.variant} timed`);
      relClose(c.cost.seconds_per_image, c.cost.seconds / 4, 1e-12, "s/image = seconds / images");
    }
    const mean = s.reduce((a, b) => a + b, 0) / 3;
    const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / 2);
    assert.equal(v.cost?.nfe, 2 * v.steps);
    relClose(v.cost?.seconds_per_image ?? NaN, mean, 1e-12, `${v.name} s/image`);
    relClose(v.cost?.seconds_per_image_sd ?? NaN, sd, 1e-9, `${v.name} s/image sd`);
    relClose(v.cost?.images_per_s ?? NaN, 1 / mean, 1e-12, `${v.name} images/s`);
    assert.match(v.cost?.engine ?? "", /^tfjs\/wasm, 1 thread, .+ \(\d+ cores\)$/);
    // trainable and total parameters: the fold trainings' manifests, lowest and highest over folds
    const counts = [0, 1, 2].map((f) => (JSON.parse(fs.readFileSync(path.join(first, "eval", `fold-${f}`, "train", "manifest.json"), "utf8")) as { parameters: { trainable: number; total: number } }).parameters);
    assert.deepEqual(v.parameters?.total, [Math.min(...counts.map((c) => c.total)), Math.max(...counts.map((c) => c.total))]);
    assert.deepEqual(v.parameters?.trainable, v.parameters?.total, "no adapter: every parameter is trained");
  }
  assert.ok(report.caveats.some((c) => c.startsWith("Cost: NFE is the number of network evaluations per image")));
  assert.match(r.stdout, /NFE \/ image\s+s \/ image \(measured\)\s+images \/ s/);
  for (const f of ["report.md", "report.html", "comparison.png", "fid.csv", "kid.csv", "folds.json"]) assert.ok(fs.existsSync(path.join(first, "eval", f)), f);
  const manifest = JSON.parse(fs.readFileSync(path.join(first, "manifest.json"), "utf8")) as { kind: string; status: string; outputs: Record<string, string> };
  assert.equal(manifest.kind, "eval");
  assert.equal(manifest.status, "finished");
  assert.ok(manifest.outputs["eval/report.json"], "report hashed in the manifest");
  // trainings are represented by their own manifests (which hash their checkpoints)
  assert.ok(manifest.outputs["eval/fold-0/train/manifest.json"]);
  assert.ok(!Object.keys(manifest.outputs).some((f) => f.includes("/checkpoints/")));
  assert.ok(manifest.outputs["eval/fold-0/ddim-4/samples/0000.png"]);
  // the printed summary
  assert.match(r.stdout, /ddim-4\s+\S+ ± \S+/);
  assert.match(r.stdout, /report: .*report\.html/);
});

test("report numbers equal a recomputation from the stored images and features", async () => {
  const report = readReport(first);
  const evalDir = path.join(first, "eval");
  const extractor: FeatureExtractor = await loadExtractor(`onnx:${ONNX}`);
  try {
    for (const c of report.cells) {
      const realDir = path.dirname(path.join(evalDir, c.features.real));
      const real = report.cv.folds[c.fold].held_out.map((id) => readPng(path.join(realDir, `${id}.png`), 3));
      const generated = Array.from({ length: c.n_generated }, (_, j) => readPng(path.join(evalDir, c.samples, `${String(j).padStart(4, "0")}.png`), 3));
      const fr = await extractor.extract(real);
      const fg = await extractor.extract(generated);
      assert.deepEqual(readFeatureFile(path.join(evalDir, c.features.real)), fr, "saved real features");
      assert.deepEqual(readFeatureFile(path.join(evalDir, c.features.generated)), fg, "saved generated features");
      relClose(c.fid, fid(fr, fg), 1e-9, `fold ${c.fold} ${c.variant} FID`);
      relClose(c.kid, kid(fr, fg).kid, 1e-9, `fold ${c.fold} ${c.variant} KID`);
    }
  } finally {
    await extractor.release?.();
  }
  // the real-vs-real floor: held-out images vs disjoint training images, recomputed from their PNGs
  const extractor2: FeatureExtractor = await loadExtractor(`onnx:${ONNX}`);
  try {
    for (const f of report.cv.folds) {
      const floor = f.real_floor;
      assert.ok(floor, `fold ${f.fold} has a real_floor`);
      assert.equal(floor.n_a, f.n_held_out);
      assert.equal(floor.n_b, Math.min(report.sampling.samples_per_fold, f.n_train));
      assert.equal(floor.b_ids.length, floor.n_b);
      assert.ok(!floor.b_ids.some((id) => f.held_out.includes(id)), "the two real sets are disjoint");
      const real = await extractor2.extract(f.held_out.map((id) => readPng(path.join(evalDir, `fold-${f.fold}`, "real-8px", `${id}.png`), 3)));
      const other = await extractor2.extract(floor.b_ids.map((id) => readPng(path.join(evalDir, `fold-${f.fold}`, "floor-8px", `${id}.png`), 3)));
      relClose(floor.fid, fid(real, other), 1e-9, `fold ${f.fold} floor FID`);
      relClose(floor.kid, kid(real, other).kid, 1e-9, `fold ${f.fold} floor KID`);
    }
  } finally {
    await extractor2.release?.();
  }
  for (const c of report.cells) {
    assert.ok(c.ci_detail && c.fid_ci && c.kid_ci);
    assert.deepEqual(c.ci_detail.units, [c.n_real], "one stratum of held-out pairs");
    assert.ok(c.fid_ci[0] <= c.fid && c.fid <= c.fid_ci[1], `FID ${c.fid} inside ${c.fid_ci}`);
    assert.ok(c.kid_ci[0] <= c.kid && c.kid <= c.kid_ci[1], `KID ${c.kid} inside ${c.kid_ci}`);
  }
  assert.match(report.bootstrap.method, /^BCa/);
  // the statistics are those of the per-fold table (the same as `diffx stats fid.csv`)
  const recomputed = analyse(report.cells.map((c) => ({ fold: c.fold, variant: c.variant, value: c.fid })));
  assert.deepEqual(JSON.parse(JSON.stringify(recomputed)), report.stats.fid);
  const csv = runCli(["--json", "stats", path.join(evalDir, "fid.csv")], { cwd });
  assert.equal(csv.code, 0, csv.stderr);
  const { warnings, ...fromCsv } = JSON.parse(csv.stdout) as { warnings: string[] };
  assert.deepEqual(fromCsv, report.stats.fid);
  assert.deepEqual(warnings, [], "no degenerate-table warning for this table");
});

test("report.md and report.html are rendered from report.json; the HTML is self-contained and shows the images", () => {
  const report = readReport(first);
  const md = fs.readFileSync(path.join(first, "eval", "report.md"), "utf8");
  for (const c of report.cells) assert.ok(md.includes(`| ${c.fold} | ${c.variant} |`), `md row ${c.fold}/${c.variant}`);
  assert.ok(md.includes("repeated-measures ANOVA"));
  assert.ok(md.includes("![real vs generated](comparison.png)"));
  const html = fs.readFileSync(path.join(first, "eval", "report.html"), "utf8");
  assert.doesNotMatch(html, /<script|<link|<iframe|@import|url\(/i, "no scripts or external styles");
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:|\/\/|file:)/i, "no external URLs");
  const srcs = [...html.matchAll(/<img [^>]*src="([^"]+)"/g)].map((m) => m[1]);
  // comparison matrix: one row per shown held-out pair × (real + 2 variants)
  assert.equal(srcs.length, report.comparison.rows.length * 3);
  assert.ok(srcs.every((s) => s.startsWith("data:image/png;base64,")));
  assert.equal((html.match(/<svg /g) ?? []).length, 7, "FID and KID per fold and against cost; loss, KL and perceptual loss");
  for (const f of fs.readdirSync(path.join(first, "eval", "plots"))) {
    assert.ok(html.includes(fs.readFileSync(path.join(first, "eval", "plots", f), "utf8")), `plots/${f} shown in the HTML`);
    assert.ok(md.includes(`](plots/${f})`), `plots/${f} linked from report.md`);
  }
  for (const c of report.cells) assert.ok(html.includes(`<td>${c.variant}</td>`));
});

test("re-running the same command reuses the finished trainings and scores; --json prints the summary", () => {
  const bins = [0, 1, 2].map((f) => path.join(first, "eval", `fold-${f}`, "train", "checkpoints", "step-8", "params.bin"));
  const before = bins.map((b) => fs.statSync(b).mtimeMs);
  const old = readReport(first);
  const r = runCli(["--json", "eval", CONFIG, "--folds", "3", "--set", FEATURES], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(evalRuns().length, 1, "the same eval run folder is continued");
  assert.equal((r.stderr.match(/reusing finished training/g) ?? []).length, 3, r.stderr);
  assert.deepEqual(bins.map((b) => fs.statSync(b).mtimeMs), before, "checkpoints untouched");
  const now = readReport(first);
  assert.deepEqual(numbers(now), numbers(old));
  const json = JSON.parse(r.stdout) as Record<string, unknown>;
  const { run, report, trained, reused, ...summary } = json;
  assert.deepEqual(summary, now.summary);
  assert.equal(run, first);
  assert.deepEqual(trained, []);
  assert.deepEqual(reused, ["fold-0/train", "fold-1/train", "fold-2/train"]);
  assert.equal((report as { html: string }).html, path.join(first, "eval", "report.html"));
});

/** Run the CLI asynchronously; `onLine` sees each stdout line and may send the child a signal. */
function runCliAsync(args: string[], onLine: (line: string, child: ChildProcess) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "", partial = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      partial += d;
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        onLine(partial.slice(0, nl), child);
        partial = partial.slice(nl + 1);
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("Ctrl-C during a fold's training stops the eval (exit 130); --resume finishes it with the same numbers", async () => {
  // a copy of the finished eval whose fold 2 has to be trained again
  const copy = path.join(cwd, "runs-copy", "ci-tiny-copy");
  fs.cpSync(first, copy, { recursive: true });
  const fold = path.join(copy, "eval", "fold-2");
  for (const d of ["train", "ddim-4", "ddim-2"]) fs.rmSync(path.join(fold, d), { recursive: true });
  let sent = false;
  const stopped = await runCliAsync(["eval", "--resume", copy], (line, child) => {
    if (!sent && /^training: 0\/8/.test(line)) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  assert.ok(sent, stopped.stdout);
  assert.equal(stopped.code, 130, stopped.stderr);
  assert.match(stopped.stdout, /interrupted; continue with: diffx eval --resume /);
  const manifest = (d: string) => JSON.parse(fs.readFileSync(path.join(d, "manifest.json"), "utf8")) as { status: string; step?: number };
  assert.equal(manifest(copy).status, "interrupted");
  assert.equal(manifest(path.join(fold, "train")).status, "interrupted");
  assert.ok((manifest(path.join(fold, "train")).step ?? 8) < 8, "stopped before the end");

  const r = runCli(["eval", "--resume", copy], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /resuming fold-2\/train/);
  assert.match(r.stdout, /trainings: 1 trained, 2 reused/);
  const params = (d: string) => fs.readFileSync(path.join(d, "eval", "fold-2", "train", "checkpoints", "step-8", "params.bin"));
  assert.deepEqual(params(copy), params(first), "same final weights as the uninterrupted training");
  assert.deepEqual(numbers(readReport(copy)), numbers(readReport(first)));
});

test("--parallel 2 (fold trainings as child processes, two at once) gives the same numbers as a sequential eval", () => {
  // a copy of the finished eval whose folds 1 and 2 have to be trained again
  const copy = path.join(cwd, "runs-copy", "ci-tiny-parallel");
  fs.cpSync(first, copy, { recursive: true });
  for (const f of [1, 2]) for (const d of ["train", "ddim-4", "ddim-2"]) fs.rmSync(path.join(copy, "eval", `fold-${f}`, d), { recursive: true });
  const r = runCli(["eval", "--resume", copy, "--parallel", "2"], { cwd });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[fold-1\/train\] /, "child output forwarded");
  assert.match(r.stdout, /\[fold-2\/train\] /, "child output forwarded");
  assert.match(r.stdout, /trainings: 2 trained, 1 reused/);
  for (const f of [1, 2]) {
    const bin = (d: string) => fs.readFileSync(path.join(d, "eval", `fold-${f}`, "train", "checkpoints", "step-8", "params.bin"));
    assert.deepEqual(bin(copy), bin(first), `fold ${f} weights`);
  }
  assert.deepEqual(numbers(readReport(copy)), numbers(readReport(first)));
  const m = JSON.parse(fs.readFileSync(path.join(copy, "manifest.json"), "utf8")) as { status: string; backend: { workers: number } };
  assert.equal(m.status, "finished");
  assert.equal(m.backend.workers, 2);
});

test("a sketch model with a single variant: sketch fidelity beside its reference levels, no ANOVA, the sketch column in the matrix", () => {
  const sketchSets = ["dataset.kind=sketch2render", "dataset.name=ci-tiny-s2r", "model.conditioning=sketch", "train.steps=2", "train.checkpoint_every=2", "eval.variants=[{name: only}]"];
  const r = runCli(["eval", CONFIG, "--folds", "2", "--set", FEATURES, ...sketchSets.flatMap((s) => ["--set", s])], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const dir = evalRuns().find((d) => d !== first && readReport(d).dataset.kind === "sketch2render") as string;
  const report = readReport(dir);
  assert.deepEqual(report.cells.map((c) => `${c.fold}/${c.variant}`), ["0/only", "1/only"]);
  for (const c of report.cells) {
    const s = c.sketch_fidelity;
    assert.ok(s, "sketch fidelity");
    for (const v of [s.f1, s.precision, s.recall, s.real_f1, s.chance_f1 as number]) assert.ok(v >= 0 && v <= 1);
    assert.equal(s.n, 4);
  }
  assert.equal(report.stats.fid, null);
  assert.equal(report.summary.fid_rm_anova, null);
  assert.ok(report.stats.summaries.sketch_f1.only);
  assert.ok(report.caveats.some((c) => c.startsWith("Only one variant")));
  assert.ok(report.comparison.rows.every((row) => row.sketch && fs.existsSync(path.join(dir, "eval", row.sketch))));
  const html = fs.readFileSync(path.join(dir, "eval", "report.html"), "utf8");
  assert.equal([...html.matchAll(/<img [^>]*src="data:image\/png;base64,/g)].length, report.comparison.rows.length * 3, "real, sketch, generated");
  assert.match(r.stdout, /sketch F1 mean ± sd/);
});

test("--folds 1, more folds than pair groups, or a fold too small for FID: exit 2 naming the problem, no run folder", () => {
  const before = evalRuns().length;
  let r = runCli(["eval", CONFIG, "--folds", "1", "--set", FEATURES], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--folds 1: k-fold cross-validation needs at least 2 folds/);
  r = runCli(["eval", CONFIG, "--folds", "13", "--set", FEATURES], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--folds 13: .*only 12 pair groups/);
  r = runCli(["eval", CONFIG, "--folds", "7", "--set", FEATURES], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--folds 7: fold \d would hold out only 1 pair .*at most 6 folds/);
  r = runCli(["eval", CONFIG, "--set", "eval.samples_per_fold=1", "--set", FEATURES], { cwd });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /eval.samples_per_fold 1: FID\/KID need at least 2 generated images per fold/);
  assert.equal(evalRuns().length, before);
});
