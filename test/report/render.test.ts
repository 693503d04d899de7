import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "../helpers/cli.js";
import { readPng } from "../../src/engine/image.js";
import { writeEvalReport, rerenderEvalReport, readEvalReport } from "../../src/report/write.js";
import { fixtureReport } from "./fixture-report.js";

test("writeEvalReport: report.json is the source; md and html show its numbers; comparison.png tiles every row", () => {
  const dir = tempDir("diffx-report-");
  const report = fixtureReport(dir);
  const files = writeEvalReport(dir, report);
  const json = readEvalReport(files.json);
  assert.equal(json.comparison.grid, "comparison.png");
  assert.deepEqual(json.cells, report.cells);

  const md = fs.readFileSync(files.md, "utf8");
  assert.ok(md.includes("| 0 | dpmpp-20 | 41.5 | [36.5, 47.5] | 30.5 (12 vs 12) | 0.021 |"), "per-fold row with the fold's real-vs-real floor beside FID");
  assert.ok(md.includes("| dpmpp-20 | 41.25 ± 2.883 |"), "summary: mean ± sd of 41.5, 38.25, 44");
  // cost and parameters in the summary: NFE, s/image ± sd over folds, images/s (1 / 0.55), trainable / total (range over folds), share
  assert.ok(md.includes("| NFE / image | s / image (measured) | images / s | trainable / total params | trainable share |"), md);
  assert.ok(md.includes("| 40 | 0.55 ± 0.05 | 1.82 | 4 096 / 1 377 251–1 377 315 | 0.297 % |"), md);
  assert.ok(md.includes("| 8 | 0.11 ± 0.01 | 9.09 | 4 096 / 1 377 251–1 377 315 | 0.297 % |"), md);
  assert.ok(md.includes("onnx/cpu, 2 threads, Test CPU (2 cores)"), "the variants table names what timed the cells");
  assert.ok(md.includes("LoRA rank 4, α 4 on 12 layers"), md);
  assert.ok(md.includes("| 0 | fold-0/train | dpmpp-20, ddim-4 | 600 | 4 096 / 1 377 251 | 0.1 | 0.3333 | 7 | reused |"), "training row: parameters, last KL and last perceptual");
  assert.ok(md.includes("| real vs real (floor) | 30.83 ± 2.268 |"), "summary: the floor's mean ± sd");
  assert.ok(md.includes("Lowest mean FID: dpmpp-20"));
  // two variants: the exact paired tests lead, then the paired t (= RM ANOVA), no one-way ANOVA
  assert.ok(md.includes("sign test, exact"));
  assert.ok(md.includes("Wilcoxon signed-rank, exact"));
  assert.ok(md.includes("exact sign test p = 0.2500"), md);
  assert.ok(md.includes("Real vs real at the same n (the floor): FID 30.83"));
  assert.ok(!md.toLowerCase().includes("one-way"));
  assert.ok(md.includes("- Small samples: a caveat with <angle brackets> & ampersands."));
  assert.ok(md.includes("text control"));
  // text control against its ceiling: chance, the classifier on real images, generated (÷ real)
  assert.ok(md.includes("| attribute | chance | classifier on real (ceiling) | dpmpp-20: generated (÷ real) | ddim-4: generated (÷ real) |"), md);
  assert.ok(md.includes("| shape | 20.0 % | 90.0 % | 60.0 % (0.667) | 60.0 % (0.667) |"), md);
  assert.ok(md.includes("| all attributes (success) | 5.0 % | 90.0 % | 60.0 % (0.667) | 60.0 % (0.667) |"), md);
  // by the value asked, pooled over the 3 folds: images right / asked
  assert.ok(md.includes("| attribute = value asked | classifier on real | dpmpp-20: generated | ddim-4: generated |"), md);
  assert.ok(md.includes("| shape = circle | 100.0 % (18/18) | 100.0 % (18/18) | 50.0 % (9/18) |"), md);
  assert.ok(md.includes("| shape = star | 83.3 % (15/18) | 16.7 % (3/18) | 16.7 % (3/18) |"), md);
  assert.ok(md.includes("| style = wave | 100.0 % (36/36) | 75.0 % (27/36) | 75.0 % (27/36) |"), md);

  const html = fs.readFileSync(files.html, "utf8");
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.ok(html.includes("a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; caption"), "captions are escaped");
  assert.ok(!html.includes("<b>bold</b>"));
  assert.ok(html.includes("Small samples: a caveat with &lt;angle brackets&gt; &amp; ampersands."));
  assert.doesNotMatch(html, /<script|<link|@import|url\(/i);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:|\/\/|file:)/i);
  const imgs = [...html.matchAll(/<img [^>]*src="data:image\/png;base64,([^"]+)"/g)];
  assert.equal(imgs.length, 3 * 3, "3 rows × (real + 2 variants)");
  // the 8-px tiles are enlarged to 64 px by pixel repetition
  const tile = Buffer.from(imgs[0][1], "base64");
  assert.equal(tile.readUInt32BE(16), 64);
  // per-fold FID and KID, FID and KID against cost, training loss, KL and perceptual loss: each
  // written to plots/ and the same drawing shown in the HTML
  const plots = ["fid-per-fold", "kid-per-fold", "cost-fid", "cost-kid", "training-loss", "training-kl", "training-perceptual"];
  assert.deepEqual(fs.readdirSync(path.join(dir, "plots")).sort(), plots.map((p) => `${p}.svg`).sort());
  for (const p of plots) assert.ok(html.includes(fs.readFileSync(path.join(dir, "plots", `${p}.svg`), "utf8")), `${p}.svg shown in report.html`);
  assert.equal((html.match(/<svg /g) ?? []).length, plots.length);
  // the per-fold charts' x axis names whole folds only (0, 1, 2; no 0.5)
  const foldSvg = fs.readFileSync(path.join(dir, "plots", "fid-per-fold.svg"), "utf8");
  assert.deepEqual([...foldSvg.matchAll(/<text x="[\d.]+" y="272" text-anchor="middle">([^<]*)<\/text>/g)].map((t) => t[1]), ["0", "1", "2"]);
  for (const p of plots) assert.ok(md.includes(`](plots/${p}.svg)`), `report.md links plots/${p}.svg`);
  // the cost plots: one labelled point per variant with its NFE
  const costFid = fs.readFileSync(path.join(dir, "plots", "cost-fid.svg"), "utf8");
  assert.ok(costFid.includes("dpmpp-20 (40 NFE)") && costFid.includes("ddim-4 (8 NFE)"));
  assert.equal((costFid.match(/<circle /g) ?? []).length, 2);
  assert.ok(html.includes("perceptual loss on held-out pairs"));
  // per-fold charts: a dashed floor line and interval whiskers for each variant
  assert.equal((html.match(/stroke-dasharray/g) ?? []).length, 2, "the floor in the FID and the KID chart");
  assert.ok(html.includes("real vs real floor") && html.includes("(BCa 95 % CI)"));
  assert.ok(html.includes("41.5") && html.includes("dpmpp-20"));

  const grid = readPng(path.join(dir, "comparison.png"), 3);
  // 3 columns and 3 rows of 64-px tiles with a 4-px gap
  assert.equal(grid.width, 3 * 64 + 4 * 4);
  assert.equal(grid.height, 3 * 64 + 4 * 4);

  // re-rendering from report.json alone gives the same files
  const before = [fs.readFileSync(files.md, "utf8"), html];
  rerenderEvalReport(dir);
  assert.deepEqual([fs.readFileSync(files.md, "utf8"), fs.readFileSync(files.html, "utf8")], before);
});
