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
  assert.equal((html.match(/<svg /g) ?? []).length, 4);
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
