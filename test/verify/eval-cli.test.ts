/**
 * `diffx verify` on a real eval run (configs/ci-tiny.yaml, 2 folds, 2 training steps, the tiny
 * ONNX feature model of test/fixtures/metrics): the eval is re-run in a temporary folder and
 * reproduces exactly; a flipped byte inside a fold training (listed by that training's own
 * manifest.json) is named by the tamper check.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";

const ONNX = path.join(ROOT, "test", "fixtures", "metrics", "onnx", "rgb-conv.onnx");
let dir = "";

interface Report {
  ok: boolean;
  checks: { check: string; status: string; comparison: string; summary: string }[];
  mismatches: { check: string; file: string; got: string }[];
}

before(() => {
  dir = tempDir("diffx-verify-eval-");
  const r = runCli(["eval", path.join(ROOT, "configs", "ci-tiny.yaml"), "--folds", "2", "--set", `eval.features=onnx:${ONNX}`, "--set", "train.steps=2", "--set", "train.sample_grid=0", "--run-dir", "ev"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
});

test("an eval run re-runs and reproduces exactly: report.json values and every other output", () => {
  const r = runCli(["--json", "verify", "ev"], { cwd: dir });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const report = JSON.parse(r.stdout) as Report;
  assert.deepEqual(
    report.checks.map((c) => [c.check, c.status, c.comparison]),
    [
      ["files", "match", "exact"],
      ["data", "match", "exact"],
      ["eval", "match", "exact"],
    ],
  );
  assert.match(report.checks[2].summary, /\d+ values in eval\/report\.json and \d+ other files/);
});

test("a flipped byte in a fold training's checkpoint is named (checked through that training's manifest)", () => {
  const file = path.join(dir, "ev", "eval", "fold-1", "train", "checkpoints", "step-2", "params.bin");
  const b = fs.readFileSync(file);
  b[100] ^= 0x01;
  fs.writeFileSync(file, b);
  const r = runCli(["--json", "verify", "ev", "--stage", "data"], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.deepEqual(
    report.mismatches.map((m) => [m.check, m.file]),
    [["files", "eval/fold-1/train/checkpoints/step-2/params.bin"]],
  );
});
