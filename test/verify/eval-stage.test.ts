/**
 * verifyRun's eval stage and its stage planning, in-process, with the eval re-run handed in
 * (as the CLI hands in the real one): an eval run's report.json values and its other outputs
 * must be reproduced exactly on a deterministic backend and within verify.rtol otherwise; when
 * and by which diffx the report was made, and whether work was reused, are not compared. An eval run has no train
 * or sample stage of its own, and a run without a report has no eval stage.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { loadConfig } from "../../src/config/load.js";
import { silentProgress } from "../../src/engine/progress.js";
import { UsageError } from "../../src/errors.js";
import { sha256 } from "../../src/engine/hash.js";
import { hashOutputs, newManifest, writeManifest } from "../../src/runs/manifest.js";
import { verifyRun, type StageRunners } from "../../src/runs/verify.js";
import type { BackendInfo } from "../../src/runs/verify-types.js";
import { ROOT, tempDir } from "../helpers/cli.js";

const RECORDED: BackendInfo = { name: "wasm", version: "4.22.0", threads: 2, workers: 1 };

function report(fid: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: "diffx-eval-report/1",
    diffx_version: "0.1.0",
    git_commit: "abc",
    created: "2026-01-01T00:00:00.000Z",
    cells: [{ fold: 0, variant: "ddim-4", fid, kid: 0.0125, samples: "fold-0/ddim-4" }],
    training: [{ fold: 0, run: "fold-0/train", final_loss: 0.25, reused: false }],
    ...extra,
  };
}

/** A finished eval run folder: config.yaml, eval/report.json and eval/fid.csv, manifest.json (kind eval) with their hashes. */
function writeEvalFolder(dir: string, rep: Record<string, unknown>, fidCsv: string): void {
  fs.mkdirSync(path.join(dir, "eval"), { recursive: true });
  const { config } = loadConfig(path.join(ROOT, "configs", "ci-tiny.yaml"));
  fs.writeFileSync(path.join(dir, "config.yaml"), stringify(config));
  fs.writeFileSync(path.join(dir, "eval", "report.json"), JSON.stringify(rep, null, 2));
  fs.writeFileSync(path.join(dir, "eval", "fid.csv"), fidCsv);
  const m = newManifest("eval", config.seed, loadConfig(path.join(dir, "config.yaml")).hash, null);
  m.backend = { ...RECORDED, skipped: [], devices: ["cpu"] };
  m.status = "finished";
  hashOutputs(dir, m);
  writeManifest(dir, m);
}

const csv = (fid: number): string => `fold,variant,value\n0,ddim-4,${fid}\n`;

function evalRun(): string {
  const dir = path.join(tempDir(), "eval-run");
  writeEvalFolder(dir, report(12.5), csv(12.5));
  return dir;
}

function runners(here: BackendInfo, rerun: Record<string, unknown>, fidCsv = csv(12.5)): StageRunners & { calls: string[] } {
  const calls: string[] = [];
  const unused = (name: string) => () => {
    throw new Error(`${name} must not run for an eval run`);
  };
  return {
    calls,
    timingFields: ["steps_per_s"],
    buildDataset: unused("buildDataset"),
    checkDataset: unused("checkDataset"),
    train: unused("train"),
    sampleGrid: unused("sampleGrid"),
    startBackend: async () => {
      calls.push("startBackend");
      return here;
    },
    evalRun: async (o) => {
      calls.push("evalRun");
      assert.ok(o.outDir.startsWith(os.tmpdir()) && !fs.existsSync(o.outDir), "the re-run gets a fresh folder under the OS temp folder");
      writeEvalFolder(o.outDir, rerun, fidCsv);
      return { interrupted: false };
    },
  };
}

const later = { created: "2027-05-05T00:00:00.000Z", git_commit: "def", training: [{ fold: 0, run: "fold-0/train", final_loss: 0.25, reused: true }] };

test("eval: the same numbers in a report made later (other date, commit, reuse) verify exactly", async () => {
  const run = evalRun();
  const r = runners(RECORDED, report(12.5, later));
  const out = await verifyRun({ run, progress: silentProgress, runners: r });
  assert.equal(out.ok, true, JSON.stringify(out.mismatches));
  assert.deepEqual(
    out.checks.map((c) => [c.check, c.status, c.comparison]),
    [
      ["files", "match", "exact"],
      ["eval", "match", "exact"],
    ],
  );
  assert.deepEqual(r.calls, ["startBackend", "evalRun"]);
  assert.match(out.checks[1].summary, /9 values in eval\/report\.json and 2 other files .* compared exactly/); // config.yaml, eval/fid.csv
});

test("eval: one number off by 1e-7 relative fails on a deterministic backend, naming report.json and the number", async () => {
  const run = evalRun();
  const off = 12.5 * (1 + 1e-7);
  const out = await verifyRun({ run, stage: "eval", progress: silentProgress, runners: runners(RECORDED, report(off), csv(off)) });
  assert.equal(out.ok, false);
  assert.deepEqual(
    out.mismatches.map((m) => [m.check, m.file, m.where, m.expected]),
    [
      ["eval", "eval/report.json", "cells[0].fid", "12.5"],
      ["eval", "eval/fid.csv", "", `sha256 ${sha256(csv(12.5)).slice(0, 16)}…`],
    ],
  );
});

test("eval: measured sampling times differ between a run and its re-run and are not compared; the NFE is", async () => {
  const cost = (nfe: number, seconds: number) => ({ nfe, seconds_per_image: seconds, seconds_per_image_sd: seconds / 10, images_per_s: 1 / seconds, engine: `onnx/cpu, ${seconds > 1 ? 4 : 2} threads, A CPU`, concurrent_trainings: seconds > 1 ? 1 : 0 });
  const withCost = (nfe: number, seconds: number) => report(12.5, { variants: [{ name: "ddim-4", steps: 4, cost: cost(nfe, seconds) }], summary: { variants: [{ name: "ddim-4", cost: { nfe, seconds_per_image: seconds, images_per_s: 1 / seconds } }] } });
  const dir = path.join(tempDir(), "eval-run");
  writeEvalFolder(dir, withCost(8, 0.25), csv(12.5));
  let out = await verifyRun({ run: dir, stage: "eval", progress: silentProgress, runners: runners(RECORDED, withCost(8, 1.75)) });
  assert.equal(out.ok, true, JSON.stringify(out.mismatches));
  assert.equal(out.checks[1].comparison, "exact");
  out = await verifyRun({ run: dir, stage: "eval", progress: silentProgress, runners: runners(RECORDED, withCost(16, 0.25)) });
  assert.deepEqual(
    out.mismatches.map((m) => [m.file, m.where, m.expected, m.got]),
    [
      ["eval/report.json", "summary.variants[0].cost.nfe", "8", "16"],
      ["eval/report.json", "variants[0].cost.nfe", "8", "16"],
    ],
  );
});

test("eval on a GPU backend: numbers within verify.rtol (1e-3) pass, beyond it fail", async () => {
  const gpu: BackendInfo = { name: "tensorflow", version: "4.22.0", threads: 2, workers: 1 };
  const run = evalRun();
  let out = await verifyRun({ run, stage: "eval", progress: silentProgress, runners: runners(gpu, report(12.5 * (1 + 5e-4)), csv(12.5 * (1 + 5e-4))) });
  assert.equal(out.ok, true, JSON.stringify(out.mismatches));
  assert.equal(out.checks[1].comparison, "numeric");
  assert.match(out.checks[1].notes.join(), /backend differs: recorded wasm, here tensorflow/);
  out = await verifyRun({ run, stage: "eval", progress: silentProgress, runners: runners(gpu, report(12.5 * (1 + 2e-3)), csv(12.5 * (1 + 2e-3))) });
  assert.equal(out.ok, false);
  assert.deepEqual(
    out.mismatches.map((m) => [m.file, m.where]),
    [
      ["eval/report.json", "cells[0].fid"],
      ["eval/fid.csv", "number #3"], // numbers in the text: 0, -4 (of ddim-4), then the FID
    ],
  );
});

test("stages that do not apply are usage errors when asked for by name", async () => {
  const run = evalRun();
  const r = runners(RECORDED, report(12.5));
  await assert.rejects(verifyRun({ run, stage: "train", progress: silentProgress, runners: r }), (e: unknown) => e instanceof UsageError && /eval run's trainings are re-run by --stage eval/.test(e.message));
  await assert.rejects(verifyRun({ run, stage: "sample", progress: silentProgress, runners: r }), (e: unknown) => e instanceof UsageError && /no samples\/grid\.png/.test(e.message));
  await assert.rejects(verifyRun({ run, stage: "data", progress: silentProgress, runners: r }), (e: unknown) => e instanceof UsageError && /no dataset hash/.test(e.message));
  const { evalRun: _drop, ...noEval } = r;
  await assert.rejects(verifyRun({ run, stage: "eval", progress: silentProgress, runners: noEval }), (e: unknown) => e instanceof UsageError && /cannot re-run evaluations/.test(e.message));
  assert.deepEqual(r.calls, [], "nothing was re-run");
});
