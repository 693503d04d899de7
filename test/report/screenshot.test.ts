/**
 * report.html opens in headless Chromium (when /usr/bin/chromium exists; skipped otherwise) and
 * its images and plots render: the screenshot is taken with test/report/screenshot.sh and
 * checked for the matrix tiles' colours, the plots' line colours and the dashed grey floor line. The screenshot is kept at
 * $DIFFX_SCREENSHOT when that is set, to look at by eye. The quality-against-cost plot file
 * (plots/cost-fid.svg, the drawing report.html shows) is screenshot on its own: each variant's
 * marker sits where its seconds per image and FID put it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, tempDir } from "../helpers/cli.js";
import { readPng, type Image } from "../../src/engine/image.js";
import { writeEvalReport } from "../../src/report/write.js";
import { fixtureReport } from "./fixture-report.js";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

function countColour(img: Image, rgb: [number, number, number], tol = 8): number {
  let n = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    const d = Math.max(...rgb.map((c, k) => Math.abs(img.data[i * 3 + k] - c)));
    if (d <= tol) n++;
  }
  return n;
}

test("report.html renders in headless Chromium with its images and plots", { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} not installed` }, () => {
  const dir = tempDir("diffx-shot-");
  const files = writeEvalReport(dir, fixtureReport(dir));
  const out = process.env.DIFFX_SCREENSHOT ?? path.join(dir, "shot.png");
  const r = spawnSync("sh", [path.join(ROOT, "test", "report", "screenshot.sh"), files.html, out, "1200,4800"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const shot = readPng(out, 3);
  assert.equal(shot.width, 1200);
  // fold 0's real tile: square colour (0, 80, 160) on grey, drawn at 64 px (8× per pixel): ≥ 32×32 px of it
  assert.ok(countColour(shot, [0, 80, 160]) >= 32 * 32 * 0.9, "real image tile visible");
  // a generated tile of variant 1 in fold 0 (seed 10): (202, 78, 214)
  assert.ok(countColour(shot, [(10 * 97) % 256, (10 * 57 + 80) % 256, (10 * 31 + 160) % 256]) >= 32 * 32 * 0.9, "generated tile visible");
  // plot lines: the first two palette colours of line-chart.ts
  assert.ok(countColour(shot, [0x1f, 0x77, 0xb4], 30) > 200, "blue plot lines visible");
  assert.ok(countColour(shot, [0xd6, 0x27, 0x28], 30) > 200, "red plot lines visible");
  // the real-vs-real floor: the grey (#777) dashed line in the FID and KID charts
  assert.ok(countColour(shot, [0x77, 0x77, 0x77], 20) > 100, "grey floor line visible");
});

/** Mean x and y of the pixels of one colour. */
function centroid(img: Image, rgb: [number, number, number], tol = 30): { x: number; y: number; n: number } {
  let x = 0, y = 0, n = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    if (Math.max(...rgb.map((c, k) => Math.abs(img.data[i * 3 + k] - c))) > tol) continue;
    x += i % img.width;
    y += Math.floor(i / img.width);
    n++;
  }
  return { x: x / n, y: y / n, n };
}

test("the quality-against-cost plot file renders each variant where its cost and FID put it", { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} not installed` }, () => {
  const dir = tempDir("diffx-shot-cost-");
  writeEvalReport(dir, fixtureReport(dir));
  const svg = path.join(dir, "plots", "cost-fid.svg");
  const out = path.join(dir, "cost.png");
  const r = spawnSync("sh", [path.join(ROOT, "test", "report", "screenshot.sh"), svg, out, "560,300"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const shot = readPng(out, 3);
  // dpmpp-20 (blue, the first variant): 0.55 s/image, FID 41.25; ddim-4 (red): 0.11 s/image, FID 54.4
  const slow = centroid(shot, [0x1f, 0x77, 0xb4]);
  const fast = centroid(shot, [0xd6, 0x27, 0x28]);
  assert.ok(slow.n > 60 && fast.n > 60, `both markers drawn (${slow.n}, ${fast.n} px)`);
  assert.ok(slow.x > fast.x + 200, `the slower variant to the right (${slow.x.toFixed(0)} vs ${fast.x.toFixed(0)})`);
  assert.ok(slow.y > fast.y + 40, `the lower FID further down (${slow.y.toFixed(0)} vs ${fast.y.toFixed(0)})`);
});
