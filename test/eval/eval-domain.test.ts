/**
 * `diffx eval configs/ci-tiny.yaml --folds 5` with the config's default feature extractor, the
 * committed `domain` CNN: every fold × variant cell has 128-d FID/KID features and a text-control
 * score, and the classifier's success rate on the held-out real images equals what the
 * extractor predicts for those images compared with the dataset's own attributes (pairs.jsonl).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";
import { readPng } from "../../src/engine/image.js";
import { DomainExtractor } from "../../src/metrics/domain/domain-extractor.js";
import type { EvalReport } from "../../src/report/report-types.js";

const CONFIG = path.join(ROOT, "configs", "ci-tiny.yaml");
const ATTRIBUTES = ["background", "color", "count", "shape", "style"];

test("eval ci-tiny --folds 5 with the domain extractor scores FID/KID and text control in every cell", async () => {
  const cwd = tempDir("diffx-eval-domain-");
  const r = runCli(["eval", CONFIG, "--folds", "5", "--set", "train.steps=4", "--set", "train.sample_grid=0"], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const runs = fs.readdirSync(path.join(cwd, "runs")).filter((n) => n.startsWith("ci-tiny-"));
  assert.equal(runs.length, 1);
  const evalDir = path.join(cwd, "runs", runs[0], "eval");
  const report = JSON.parse(fs.readFileSync(path.join(evalDir, "report.json"), "utf8")) as EvalReport;

  assert.equal(report.cv.k, 5);
  assert.equal(report.extractor.spec, "domain");
  assert.equal(report.extractor.dims, 128);
  assert.match(report.extractor.description, /weights sha256 [0-9a-f]{16}/);
  assert.equal(report.cells.length, 10);

  // ground truth of the held-out pairs, from the dataset's own pairs.jsonl
  const datasetDir = path.join(cwd, "datasets", "ci-tiny-art");
  const truth = new Map<string, Record<string, string | number>>();
  for (const line of fs.readFileSync(path.join(datasetDir, "pairs.jsonl"), "utf8").split("\n").filter((l) => l.trim() !== "")) {
    const pair = JSON.parse(line) as { id: string; attributes: Record<string, string | number> };
    truth.set(pair.id, pair.attributes);
  }
  const ex = await DomainExtractor.load();
  try {
    for (const c of report.cells) {
      const tc = c.text_control;
      assert.ok(tc, `fold ${c.fold} ${c.variant}: text control scored`);
      assert.deepEqual(tc.attributes, ATTRIBUTES);
      assert.equal(tc.n, c.n_generated);
      assert.ok(tc.success_rate >= 0 && tc.success_rate <= 1);
      for (const a of ATTRIBUTES) assert.ok(tc.attribute_accuracy[a] >= 0 && tc.attribute_accuracy[a] <= 1, a);
      assert.ok(Number.isFinite(c.fid) && Number.isFinite(c.kid));

      const ids = report.cv.folds[c.fold].held_out;
      const realDir = path.dirname(path.join(evalDir, c.features.real));
      const real = ids.map((id) => readPng(path.join(realDir, `${id}.png`), 3));
      const predicted = await ex.predictAttributes(real);
      const allRight = predicted.filter((p, i) => ATTRIBUTES.every((a) => p[a] === String(truth.get(ids[i])?.[a]))).length;
      assert.equal(tc.real_success_rate, allRight / ids.length, `fold ${c.fold}: classifier success on the real held-out images`);
      for (const a of ATTRIBUTES) {
        const right = predicted.filter((p, i) => p[a] === String(truth.get(ids[i])?.[a])).length;
        assert.equal(tc.real_attribute_accuracy?.[a], right / ids.length, `fold ${c.fold}: classifier accuracy on real ${a}`);
      }
      assert.equal(tc.success_vs_real, tc.real_success_rate > 0 ? tc.success_rate / tc.real_success_rate : null);
    }
  } finally {
    await ex.release();
  }
  const summary = report.stats.summaries.text_control;
  assert.deepEqual(Object.keys(summary ?? {}).sort(), ["ddim-2", "ddim-4"], "text-control mean ± sd per variant");
});
